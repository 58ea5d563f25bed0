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
// Memory a new job may use: MemAvailable, capped by what a cgroup limit leaves (memory.max -
// memory.current) and by what RLIMIT_AS leaves of the address space (limit - VmSize); 0 if unknown.
std::int64_t available_memory_bytes();

// Caps available_memory_bytes() for this process (0 removes the cap): for harnesses and runs that
// must stay well below what the machine has (the fuzz targets set 512 MiB). Call it at start-up.
void limit_memory_budget(std::int64_t bytes);

// "1.23 GiB", "512 MiB", ...
std::string format_bytes(std::int64_t bytes);

// The memory budget: throws Error with a clear message when `bytes` exceed what this process may
// still use (available_memory_bytes()). Called before every allocation whose size comes from
// input, so an absurd size is refused at once with exit 1 instead of an out-of-memory kill.
// `what` names the input and the job ("g.txt: a graph of 2147483647 nodes", "attend N=65536: ...").
void require_memory(std::int64_t bytes, const std::string& what);
// The same for a size computed in floating point (absurd inputs overflow 64-bit integers).
void require_memory(double bytes, const std::string& what);

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
