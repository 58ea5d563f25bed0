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

// One reverse row j of the transposed gather, any D: out_j = a * sum_t w[perm[t]] * y[col[t]] + b * z_j
// (per-edge values in forward order; plain loops). `acc` holds H*D floats.
inline void scatter_row_any(const float* w, const std::int64_t* perm, std::int64_t H, std::int64_t D,
                            const float* y, std::int64_t y_sn, std::int64_t y_sh, const std::int32_t* col,
                            std::int64_t begin, std::int64_t end, float a, float* out_row, std::int64_t o_sh,
                            float b, const float* z_row, std::int64_t z_sh, float* acc) {
  for (std::int64_t t = 0; t < H * D; ++t) acc[t] = 0.0f;
  for (std::int64_t t = begin; t < end; ++t) {
    const float* yr = y + col[t] * y_sn;
    const float* we = w + perm[t] * H;
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t x = 0; x < D; ++x) acc[h * D + x] += we[h] * yr[h * y_sh + x];
  }
  for (std::int64_t h = 0; h < H; ++h)
    for (std::int64_t x = 0; x < D; ++x)
      out_row[h * o_sh + x] = a * acc[h * D + x] + (b != 0.0f ? b * z_row[h * z_sh + x] : 0.0f);
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS
