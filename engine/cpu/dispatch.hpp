// Runs CPU kernels at the level of the current execution context:
//
//   cpu::run([&]<class K>(const cpu::Tuning& t) { K::edge_attention(g, t, q, k, scale, mask, w); });
//
// calls the lambda with K the Kernels struct of the context's level (kernels.inc) and the
// context's tuning, inside the context's arena, and returns its result.
#pragma once

#include <diffuser/engine/bf16.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/ops_backward.hpp>
#include <diffuser/engine/tensor.hpp>

#include "levels.hpp"
#include "tuning.hpp"

namespace diffuser::cpu {
template <CpuIsa>
struct KernelsAt;
}  // namespace diffuser::cpu

#define DIFFUSER_PER_LEVEL_FILE "kernels.inc"
#include "for_each_level.inc"

namespace diffuser::cpu {

template <class F>
auto run(F&& f) {
  const Context& ctx = current_context();
  const Tuning tuning = Tuning::of(ctx);
  auto call = [&] {
    return with_level<KernelsAt>(ctx.cpu_isa(), [&]<class K>() { return f.template operator()<K>(tuning); });
  };
  using R = decltype(call());
  if constexpr (std::is_void_v<R>) {
    ctx.run(call);
  } else {
    R out{};
    ctx.run([&] { out = call(); });
    return out;
  }
}

}  // namespace diffuser::cpu
