// Limits the number of worker threads the CPU backend uses, for as long as the object lives.
#pragma once

#include <memory>

namespace diffuser {

class ThreadLimit {
 public:
  // threads <= 0 keeps the default (all hardware threads).
  explicit ThreadLimit(int threads);
  ~ThreadLimit();
  ThreadLimit(const ThreadLimit&) = delete;
  ThreadLimit& operator=(const ThreadLimit&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Threads the CPU backend will use now.
int active_threads();

}  // namespace diffuser
