// The per-row kernels the CPU gradient primitives share (backward_*.cpp; entry points in kernels.inc).
#pragma once

#include "simd.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

// Softmax backward of one row's (deg x H) block in place: g <- w * (g - sum_e w * g) per head.
// `acc` holds H floats.
inline void softmax_backward_row(const float* w, float* g, std::int64_t count_edges, std::int64_t H,
                                 float* acc) {
  for (std::int64_t h = 0; h < H; ++h) acc[h] = 0.0f;
  for (std::int64_t e = 0; e < count_edges; ++e)
    for (std::int64_t h = 0; h < H; ++h) acc[h] += w[e * H + h] * g[e * H + h];
  for (std::int64_t e = 0; e < count_edges; ++e)
    for (std::int64_t h = 0; h < H; ++h) g[e * H + h] = w[e * H + h] * (g[e * H + h] - acc[h]);
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS
