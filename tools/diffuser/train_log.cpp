#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/error.hpp>

#include "train_log.hpp"

namespace diffuser::cli {

namespace fs = std::filesystem;

namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_stop_signal(int signo) {
  if (g_signal == 0) g_signal = signo;
}

struct sigaction g_old_int, g_old_term;

std::string number(double v, const char* fmt) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

}  // namespace

const char* TrainLog::header() {
  return "step,loss,lr,grad_norm,tokens,tokens_per_s,step_s,cpu_s,elapsed_s,eval_loss,eval_accuracy";
}

double TrainLog::adopt(const fs::path& from, std::int64_t upto) {
  std::ifstream in(from);
  if (!in) return 0.0;
  std::string line;
  double elapsed = 0.0;
  // Rows of another layout (an older diffuser) are not mixed in: the log starts afresh.
  if (!std::getline(in, line) || line != header()) return 0.0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string step, skip;
    std::getline(fields, step, ',');
    long long s = 0;
    try {
      s = std::stoll(step);
    } catch (...) {
      continue;
    }
    if (s > upto) break;
    for (int k = 0; k < 8; ++k) std::getline(fields, skip, ',');  // loss .. elapsed_s
    try {
      elapsed = std::stod(skip);
    } catch (...) {
    }
    lines_.push_back(line);
  }
  return elapsed;
}

void TrainLog::add(const LogRow& r) {
  std::string line = std::to_string(r.step) + "," + number(r.loss, "%.9g") + "," + number(r.lr, "%.9g") +
                     "," + number(r.grad_norm, "%.9g") + "," + std::to_string(r.tokens) + "," +
                     number(r.tokens_per_s, "%.1f") + "," + number(r.step_s, "%.4f") + "," +
                     number(r.cpu_s, "%.4f") + "," + number(r.elapsed_s, "%.3f") + ",";
  if (r.eval_loss) line += number(*r.eval_loss, "%.9g");
  line += ",";
  if (r.eval_accuracy) line += number(*r.eval_accuracy, "%.6f");
  lines_.push_back(line);
}

void TrainLog::write() const {
  AtomicOutput out(path_, false);
  out.stream() << header() << "\n";
  for (const auto& l : lines_) out.stream() << l << "\n";
  out.commit();
}

double process_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::string format_duration(double s) {
  if (!(s >= 0) || s > 1e8) return "?";
  const auto t = static_cast<long long>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, (t / 60) % 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%llds", t);
  return buf;
}

StopSignals::StopSignals() {
  g_signal = 0;
  struct sigaction sa = {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

int StopSignals::received() {
  return g_signal;
}

}  // namespace diffuser::cli
