// cpu_baselines.hpp: the baselines at the current context's level, on its threads.
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/cpu_baselines.hpp>
#include <diffuser/engine/error.hpp>

#include "../cpu/levels.hpp"

namespace diffuser::cpu {
template <CpuIsa>
struct BaselinesAt;
}  // namespace diffuser::cpu

#define DIFFUSER_PER_LEVEL_FILE "../baselines/cpu_loops.inc"
#include "../cpu/for_each_level.inc"

namespace diffuser::baselines {

namespace {

template <class F>
auto at_current_level(F&& f) {
  const Context& ctx = current_context();
  using R = decltype(cpu::with_level<cpu::BaselinesAt>(ctx.cpu_isa(), f));
  R out{};
  ctx.run([&] { out = cpu::with_level<cpu::BaselinesAt>(ctx.cpu_isa(), f); });
  return out;
}

}  // namespace

double triad_gbps(std::int64_t n, int reps) {
  DIFFUSER_CHECK(n > 0 && reps > 0, "triad_gbps: elements and reps must be positive");
  return at_current_level([&]<class B>() { return B::triad_gbps(n, reps); });
}

double fma_peak_gflops() {
  const int threads = current_context().cpu_threads();
  return at_current_level([&]<class B>() { return B::fma_peak_gflops(threads); });
}

void naive_forward(const Csr& g, const Tensor3<float>& q, const Tensor3<float>& k, const Tensor3<float>& v,
                   int hops, float alpha, Tensor3<float>& z, bool parallel) {
  at_current_level([&]<class B>() {
    B::naive_forward(g, q, k, v, hops, alpha, z, parallel);
    return 0;
  });
}

}  // namespace diffuser::baselines
