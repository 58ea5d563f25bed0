#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <diffuser/engine/threads.hpp>

namespace diffuser {

struct ThreadLimit::Impl {
  explicit Impl(int threads)
      : control(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads)) {}
  tbb::global_control control;
};

ThreadLimit::ThreadLimit(int threads) {
  if (threads > 0) impl_ = std::make_unique<Impl>(threads);
}

ThreadLimit::~ThreadLimit() = default;

int active_threads() {
  return static_cast<int>(tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));
}

}  // namespace diffuser
