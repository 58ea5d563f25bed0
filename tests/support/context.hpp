// Running test code in a context derived from the suite's (tests/main.cpp builds that one from the
// environment, so DIFFUSER_CPU_ISA=avx2 runs the whole suite at that level).
#pragma once

#include <utility>
#include <vector>

#include <diffuser/engine/context.hpp>
#include <diffuser/engine/cpu_isa.hpp>

namespace diffuser::test {

// f() with the current context's options changed by change(ContextOptions&): the primitives and
// any TBB loop inside f run in the new context (its level, its threads).
template <class Change, class F>
auto with_options(Change&& change, F&& f) {
  ContextOptions o = current_context().options();
  change(o);
  const Context ctx(o);
  ContextScope scope(ctx);
  return in_current_context(std::forward<F>(f));
}

template <class F>
auto with_threads(int threads, F&& f) {
  return with_options([&](ContextOptions& o) { o.cpu.threads = threads; }, std::forward<F>(f));
}

template <class F>
auto with_isa(CpuIsa isa, F&& f) {
  return with_options([&](ContextOptions& o) { o.cpu.isa = isa; }, std::forward<F>(f));
}

// The CPU levels this build and this CPU run, ascending (every one is tested).
inline std::vector<CpuIsa> cpu_levels() {
  return cpu_isa_levels();
}

}  // namespace diffuser::test
