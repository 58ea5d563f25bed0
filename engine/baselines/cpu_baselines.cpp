// cpu_baselines.hpp: the baselines at the current context's level, on its threads.
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/cpu_baselines.hpp>
#include <diffuser/engine/error.hpp>

#include "../cpu/levels.hpp"

namespace diffuser::cpu {
template <CpuIsa>
struct BaselinesAt;
}  // namespace diffuser::cpu

#if DIFFUSER_CPU_HAVE_GENERIC
#define DIFFUSER_ISA_NS isa_generic
#define DIFFUSER_ISA_ENUM CpuIsa::generic
#include "cpu_loops.inc"
#undef DIFFUSER_ISA_NS
#undef DIFFUSER_ISA_ENUM
#endif
#if DIFFUSER_CPU_HAVE_AVX2
#define DIFFUSER_ISA_NS isa_avx2
#define DIFFUSER_ISA_ENUM CpuIsa::avx2
#include "cpu_loops.inc"
#undef DIFFUSER_ISA_NS
#undef DIFFUSER_ISA_ENUM
#endif
#if DIFFUSER_CPU_HAVE_AVX512
#define DIFFUSER_ISA_NS isa_avx512
#define DIFFUSER_ISA_ENUM CpuIsa::avx512
#include "cpu_loops.inc"
#undef DIFFUSER_ISA_NS
#undef DIFFUSER_ISA_ENUM
#endif

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
