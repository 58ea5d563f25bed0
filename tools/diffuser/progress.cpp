#include "progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <diffuser/engine/error.hpp>

namespace diffuser::cli {

namespace {

std::string seconds_text(double s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%d min %02d s", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%d h %02d min", static_cast<int>(s) / 3600,
                  static_cast<int>(s) / 60 % 60);
  return buf;
}

int terminal_columns(std::FILE* f) {
  winsize ws{};
  if (::ioctl(::fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

}  // namespace

ProgressStyle progress_style(bool quiet) {
  ProgressStyle s;
  s.mode = quiet ? ProgressStyle::Mode::off
                 : (::isatty(::fileno(stderr)) ? ProgressStyle::Mode::bar : ProgressStyle::Mode::lines);
  if (const char* m = std::getenv("DIFFUSER_PROGRESS"); m && *m && !quiet) {
    const std::string v = m;
    if (v == "off")
      s.mode = ProgressStyle::Mode::off;
    else if (v == "bar")
      s.mode = ProgressStyle::Mode::bar;
    else if (v == "lines")
      s.mode = ProgressStyle::Mode::lines;
    else
      throw UsageError(cat("DIFFUSER_PROGRESS must be off, bar or lines, got '", v, "'"));
  }
  if (const char* d = std::getenv("DIFFUSER_PROGRESS_DELAY"); d && *d) {
    char* end = nullptr;
    const double v = std::strtod(d, &end);
    if (end == d || *end != '\0' || !(v >= 0.0) || !std::isfinite(v))
      throw UsageError(cat("DIFFUSER_PROGRESS_DELAY must be a number of seconds >= 0, got '", d, "'"));
    s.delay_s = v;
  }
  return s;
}

Progress::Progress(std::string command, ProgressStyle style)
    : command_(std::move(command)), style_(style), start_(Clock::now()), stage_start_(start_), last_draw_() {}

Progress::~Progress() {
  finish();
}

double Progress::since(Clock::time_point t) const {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double Progress::elapsed() const {
  return since(start_);
}

void Progress::stage(const std::string& name, double total) {
  std::lock_guard<std::mutex> lock(mutex_);
  stage_ = name;
  total_ = total;
  done_ = 0;
  detail_.clear();
  stage_start_ = Clock::now();
  stage_printed_ = false;
  draw(false);
}

void Progress::set_total(double total) {
  std::lock_guard<std::mutex> lock(mutex_);
  total_ = total;
}

void Progress::update(double done, const std::string& detail) {
  std::lock_guard<std::mutex> lock(mutex_);
  done_ = std::max(done_, done);
  if (!detail.empty()) detail_ = detail;
  draw(false);
}

void Progress::note(const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (style_.mode == ProgressStyle::Mode::off) return;
  clear_bar();
  std::fprintf(style_.out, "diffuser %s: %s (%s)\n", command_.c_str(), message.c_str(),
               seconds_text(elapsed()).c_str());
  std::fflush(style_.out);
  if (style_.mode == ProgressStyle::Mode::bar) draw(true);
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  clear_bar();
}

void Progress::clear_bar() {
  if (!drawn_) return;
  std::fputs("\r\033[K", style_.out);
  std::fflush(style_.out);
  drawn_ = false;
}

// "stage  45% (12.3 s, about 15.0 s left; detail)": the stage, the share done, the time so far, the
// time left (linear in the stage's units) and the detail, the most useful first (a bar is cut
// at the terminal's width).
std::string Progress::status() const {
  std::string s = stage_;
  std::string times = seconds_text(elapsed());
  if (total_ > 0) {
    const double f = std::clamp(done_ / total_, 0.0, 1.0);
    char pct[16];
    std::snprintf(pct, sizeof pct, " %3.0f%%", 100 * f);
    s += pct;
    if (f > 0 && f < 1) times += ", about " + seconds_text(since(stage_start_) * (1 - f) / f) + " left";
  }
  s += " (" + times;
  if (!detail_.empty()) s += "; " + detail_;
  return s + ")";
}

void Progress::draw(bool force) {
  if (style_.mode == ProgressStyle::Mode::off || stage_.empty()) return;
  if (elapsed() < style_.delay_s) return;
  if (style_.mode == ProgressStyle::Mode::lines) {
    if (!force && stage_printed_ && since(last_draw_) < style_.line_every_s) return;
    std::fprintf(style_.out, "diffuser %s: %s\n", command_.c_str(), status().c_str());
    std::fflush(style_.out);
    stage_printed_ = true;
    last_draw_ = Clock::now();
    return;
  }
  if (!force && drawn_ && since(last_draw_) < style_.redraw_every_s) return;
  const int columns = terminal_columns(style_.out);
  std::string line = "diffuser " + command_ + ": ";
  if (total_ > 0) {
    const int width = 20;
    const int filled = static_cast<int>(std::lround(width * std::clamp(done_ / total_, 0.0, 1.0)));
    line.append(1, '[')
        .append(static_cast<std::size_t>(filled), '#')
        .append(static_cast<std::size_t>(width - filled), '.')
        .append("] ");
  }
  line += status();
  if (static_cast<int>(line.size()) > columns - 1) line.resize(static_cast<std::size_t>(columns - 1));
  std::fprintf(style_.out, "\r%s\033[K", line.c_str());
  std::fflush(style_.out);
  drawn_ = true;
  last_draw_ = Clock::now();
}

}  // namespace diffuser::cli
