// Process and machine facts for budgets and benchmarks: memory, peak RSS, wall clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace diffuser {

// Peak resident set size of this process so far (VmHWM), in bytes; 0 if unknown.
std::int64_t peak_rss_bytes();
// Resets the peak RSS counter where the kernel allows it (Linux clear_refs); returns success.
bool reset_peak_rss();
// Memory a new job may use: MemAvailable, capped by a cgroup limit if one is set; 0 if unknown.
std::int64_t available_memory_bytes();

// "1.23 GiB", "512 MiB", ...
std::string format_bytes(std::int64_t bytes);

// Throws Error with a clear message when `bytes` exceed what this machine has available.
// `what` names the job ("attend N=65536: graph 75 MiB + weights 900 MiB + ...").
void require_memory(std::int64_t bytes, const std::string& what);

class Stopwatch {
 public:
  Stopwatch() : t0_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }
  double ms() const { return seconds() * 1e3; }
  void reset() { t0_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point t0_;
};

double median(std::vector<double> values);

}  // namespace diffuser
