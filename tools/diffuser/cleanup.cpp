// The signal handler and its record of temporary paths. Everything the handler touches is a
// lock-free atomic or a fixed array, and it calls only async-signal-safe functions (unlink, rmdir,
// write, _exit).
#include <array>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <unistd.h>

#include <diffuser/engine/atomic_file.hpp>

#include "cleanup.hpp"

namespace diffuser::cli {

namespace {

enum SlotState : int { kFree = 0, kFilling = 1, kFile = 2, kFolder = 3 };

constexpr int kSlots = 256;
constexpr std::size_t kPathMax = 4096;

struct Slot {
  std::atomic<int> state{kFree};
  char path[kPathMax];
};
static_assert(std::atomic<int>::is_always_lock_free);

std::array<Slot, kSlots> g_slots;
std::atomic<int> g_raise_on_temp{0};  // test hook: signal to raise at the first temporary file
constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
struct sigaction g_previous[std::size(kSignals)];

void record(const char* path, bool folder) {
  const std::size_t len = std::strlen(path);
  if (len + 1 > kPathMax) return;  // cannot be recorded; the run's own cleanup still removes it
  for (auto& s : g_slots) {
    int expected = kFree;
    if (s.state.compare_exchange_strong(expected, kFilling, std::memory_order_acquire)) {
      std::memcpy(s.path, path, len + 1);
      s.state.store(folder ? kFolder : kFile, std::memory_order_release);
      break;
    }
  }
  if (!folder) {
    if (const int sig = g_raise_on_temp.exchange(0)) std::raise(sig);
  }
}

void forget(const char* path) {
  for (auto& s : g_slots) {
    const int st = s.state.load(std::memory_order_acquire);
    if ((st == kFile || st == kFolder) && std::strcmp(s.path, path) == 0) {
      s.state.store(kFree, std::memory_order_release);
      return;
    }
  }
}

void put(std::string_view s) {
  while (!s.empty()) {
    const ssize_t w = ::write(2, s.data(), s.size());
    if (w <= 0) return;
    s.remove_prefix(static_cast<std::size_t>(w));
  }
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    case SIGPIPE:
      return "SIGPIPE";
  }
  return "a signal";
}

void on_signal(int sig) {
  int removed = 0;
  for (auto& s : g_slots)  // files first, then the folders that held them (newest first)
    if (s.state.load(std::memory_order_acquire) == kFile && ::unlink(s.path) == 0) ++removed;
  for (int k = kSlots - 1; k >= 0; --k)
    if (g_slots[static_cast<std::size_t>(k)].state.load(std::memory_order_acquire) == kFolder &&
        ::rmdir(g_slots[static_cast<std::size_t>(k)].path) == 0)
      ++removed;
  if (sig != SIGPIPE) {  // stderr may be the broken pipe itself
    char count[16];
    int at = sizeof count;
    int v = removed;
    do {
      count[--at] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v > 0);
    put("diffuser: interrupted by ");
    put(signal_name(sig));
    put("; removed ");
    put(std::string_view(count + at, sizeof count - static_cast<std::size_t>(at)));
    put(" temporary file(s) and folder(s)\n");
  }
  ::_exit(128 + sig);
}

int signal_from_name(const char* name) {
  const std::string_view n(name);
  if (n == "INT") return SIGINT;
  if (n == "TERM") return SIGTERM;
  if (n == "HUP") return SIGHUP;
  if (n == "PIPE") return SIGPIPE;
  return 0;
}

}  // namespace

SignalCleanup::SignalCleanup() {
  if (const char* t = std::getenv("DIFFUSER_TEST_SIGNAL_ON_TEMP")) g_raise_on_temp = signal_from_name(t);
  set_temp_path_hooks({&record, &forget});
  struct sigaction sa {};
  sa.sa_handler = &on_signal;
  sigemptyset(&sa.sa_mask);
  for (const int sig : kSignals) sigaddset(&sa.sa_mask, sig);  // one cleanup at a time
  for (std::size_t k = 0; k < std::size(kSignals); ++k) {
    const int sig = kSignals[k];
    // nohup and shells starting background jobs ignore SIGHUP or SIGINT: keep them ignored.
    // SIGPIPE is always handled: an ignored one would let a run go on writing into a closed pipe.
    if (::sigaction(sig, nullptr, &g_previous[k]) == 0 && g_previous[k].sa_handler == SIG_IGN &&
        sig != SIGPIPE)
      continue;
    ::sigaction(sig, &sa, nullptr);
  }
}

SignalCleanup::~SignalCleanup() {
  for (std::size_t k = 0; k < std::size(kSignals); ++k) ::sigaction(kSignals[k], &g_previous[k], nullptr);
  set_temp_path_hooks({});
}

int recorded_temp_paths() {
  int n = 0;
  for (auto& s : g_slots) n += s.state.load() >= kFile ? 1 : 0;
  return n;
}

}  // namespace diffuser::cli
