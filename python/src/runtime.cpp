#include "runtime.hpp"

#include <memory>

#include <pybind11/pybind11.h>

#include <diffuser/engine/environment.hpp>
#include <diffuser/engine/error.hpp>

namespace diffuser::python {

namespace {

// Set once at import, never changed (like the engine's own Context::process_default()).
const Context* g_base = nullptr;

}  // namespace

void init_base_context() {
  if (!g_base) g_base = new Context(context_options_from_environment());  // lives as long as the process
}

const Context& base_context() {
  return g_base ? *g_base : Context::process_default();
}

void check_threads(std::optional<int> threads) {
  if (threads && (*threads < 1 || *threads > 4096))
    throw Error(cat("threads must be in [1, 4096] (or None: every hardware thread), got ", *threads));
}

void run_engine(std::optional<int> threads, const std::function<void()>& f) {
  check_threads(threads);
  pybind11::gil_scoped_release release;
  if (!threads) {
    base_context().run(f);
    return;
  }
  ContextOptions o = base_context().options();
  o.cpu.threads = *threads;
  const Context ctx(o);
  ctx.run(f);
}

}  // namespace diffuser::python
