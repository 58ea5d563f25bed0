// Progress of long jobs on stderr, one reporter for every command (reach, spectral, mass, bench,
// layer --bench, report; a training loop works the same way: a stage per epoch, units = steps).
// On a terminal: one line redrawn in place, a bar with the stage, percentage, elapsed time and
// ETA. Elsewhere (a pipe, a file, CI logs): a plain line at each stage and then at most one every
// 10 s. Nothing before the job has run 2 s, so short runs stay silent; nothing with --quiet.
// stdout is never touched.
#pragma once

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

namespace diffuser::cli {

struct ProgressStyle {
  enum class Mode { off, bar, lines };
  Mode mode = Mode::lines;
  double delay_s = 2.0;        // silent before this many seconds
  double line_every_s = 10.0;  // lines mode: at most one line per this many seconds within a stage
  double redraw_every_s = 0.1;
  std::FILE* out = stderr;
};

// The style for a command: off with --quiet, else a bar when stderr is a terminal and lines
// otherwise. The environment may force it: DIFFUSER_PROGRESS=off|bar|lines, and
// DIFFUSER_PROGRESS_DELAY=S (seconds of silence, default 2) for scripts and tests.
ProgressStyle progress_style(bool quiet);

class Progress {
 public:
  Progress(std::string command, ProgressStyle style);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Starts a stage of `total` units (0: unknown, then no percentage or ETA).
  void stage(const std::string& name, double total = 0);
  // The stage's total once it is known.
  void set_total(double total);
  // Units done so far in the stage, and a short detail ("coverage 45%"). Thread-safe.
  void update(double done, const std::string& detail = "");
  // A line that stays, e.g. a result per pattern; shown at once (unless off). Thread-safe.
  void note(const std::string& message);
  // Clears the bar: call it before writing to stdout (the next update draws it again); the
  // destructor calls it too.
  void finish();
  double elapsed() const;

 private:
  using Clock = std::chrono::steady_clock;
  double since(Clock::time_point t) const;
  void draw(bool force);
  void clear_bar();
  std::string status() const;

  std::string command_;
  ProgressStyle style_;
  Clock::time_point start_, stage_start_, last_draw_;
  std::string stage_, detail_;
  double total_ = 0, done_ = 0;
  bool drawn_ = false;         // a bar is on the terminal's last line
  bool stage_printed_ = true;  // lines mode: this stage has had its line
  mutable std::mutex mutex_;
};

}  // namespace diffuser::cli
