// What the CLI does when a signal ends it: SIGINT, SIGTERM, SIGHUP and SIGPIPE remove every
// temporary file and folder this run created (the library announces them through
// diffuser::TempPathHooks, engine/atomic_file.hpp) and exit with status 128 + signal, after one
// line on stderr. The record of those paths is this file's, kept in fixed slots that the handler
// can read without allocating or locking.
#pragma once

namespace diffuser::cli {

class SignalCleanup {
 public:
  // Installs the handlers and the hooks. DIFFUSER_TEST_SIGNAL_ON_TEMP=INT|TERM|HUP|PIPE makes the
  // run raise that signal right after its first temporary file exists (tests of the cleanup).
  SignalCleanup();
  ~SignalCleanup();  // default handlers back, hooks removed
  SignalCleanup(const SignalCleanup&) = delete;
  SignalCleanup& operator=(const SignalCleanup&) = delete;
};

// The number of paths recorded now (tests).
int recorded_temp_paths();

}  // namespace diffuser::cli
