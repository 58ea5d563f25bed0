// The bookkeeping of `diffuser train`: log.csv (rewritten atomically at every logged step, so it is
// always whole), and the signal flag that ends a run with a checkpoint.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace diffuser::cli {

struct LogRow {
  std::int64_t step = 0;
  double loss = 0, lr = 0, grad_norm = 0;
  std::int64_t tokens = 0;
  double tokens_per_s = 0, step_s = 0, elapsed_s = 0;
  double cpu_s = 0;  // CPU time of the process during the step (all threads)
  std::optional<double> eval_loss, eval_accuracy;
};

class TrainLog {
 public:
  explicit TrainLog(std::filesystem::path path) : path_(std::move(path)) {}
  // Keeps the rows of an earlier log (`from`, if it exists) up to step `upto` (a resumed run);
  // returns the elapsed time of the last kept row.
  double adopt(const std::filesystem::path& from, std::int64_t upto);
  void add(const LogRow& r);
  void write() const;  // atomically
  static const char* header();

 private:
  std::filesystem::path path_;
  std::vector<std::string> lines_;  // without the header
};

// CPU time of this process so far (all threads), seconds.
double process_cpu_seconds();

// "1h02m", "3m05s", "12s".
std::string format_duration(double seconds);

// SIGINT and SIGTERM set a flag instead of ending the process while it lives; the previous
// handlers come back at destruction.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  // The signal received (0 if none).
  static int received();
};

}  // namespace diffuser::cli
