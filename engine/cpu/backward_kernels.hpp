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

// One reverse row j: out_j = a * sum_t w[e_t] * y[i_t] + b * z_j, with e_t = perm[t] (per-edge
// values in forward order) or t (kPerm false: values in reverse order). Four edges at a time, as the
// forward gather. `acc` holds H*D floats.
template <int D, bool kPerm>
void scatter_row(const float* w, const std::int64_t* perm, std::int64_t H, const float* y, std::int64_t y_sn,
                 std::int64_t y_sh, const std::int32_t* col, std::int64_t begin, std::int64_t end, float a,
                 float* out_row, std::int64_t o_sh, float b, const float* z_row, std::int64_t z_sh,
                 float* acc) {
  using namespace simd;
  constexpr int C = D / kLanes;
  auto edge = [&](std::int64_t t) { return kPerm ? perm[t] : t; };
  for (std::int64_t t = 0; t < H * D; ++t) acc[t] = 0.0f;
  std::int64_t t = begin;
  for (; t + 4 <= end; t += 4) {
    if (t + 12 <= end)
      for (int u = 8; u < 12; ++u) __builtin_prefetch(y + col[t + u] * y_sn);
    const float* y0 = y + col[t] * y_sn;
    const float* y1 = y + col[t + 1] * y_sn;
    const float* y2 = y + col[t + 2] * y_sn;
    const float* y3 = y + col[t + 3] * y_sn;
    const float* w0 = w + edge(t) * H;
    const float* w1 = w + edge(t + 1) * H;
    const float* w2 = w + edge(t + 2) * H;
    const float* w3 = w + edge(t + 3) * H;
    for (std::int64_t h = 0; h < H; ++h) {
      const Vec a0 = splat(w0[h]), a1 = splat(w1[h]), a2 = splat(w2[h]), a3 = splat(w3[h]);
      const std::int64_t off = h * y_sh;
      float* ah = acc + h * D;
      for (int c = 0; c < C; ++c) {
        const std::int64_t o = off + c * kLanes;
        store(ah + c * kLanes, load(ah + c * kLanes) + a0 * load(y0 + o) + a1 * load(y1 + o) +
                                   a2 * load(y2 + o) + a3 * load(y3 + o));
      }
    }
  }
  for (; t < end; ++t) {
    const float* yr = y + col[t] * y_sn;
    const float* we = w + edge(t) * H;
    for (std::int64_t h = 0; h < H; ++h) {
      const Vec wv = splat(we[h]);
      float* ah = acc + h * D;
      const float* yh = yr + h * y_sh;
      for (int c = 0; c < C; ++c) store(ah + c * kLanes, load(ah + c * kLanes) + wv * load(yh + c * kLanes));
    }
  }
  const Vec va = splat(a), vb = splat(b);
  for (std::int64_t h = 0; h < H; ++h) {
    float* o = out_row + h * o_sh;
    const float* ah = acc + h * D;
    if (b != 0.0f) {
      const float* zh = z_row + h * z_sh;
      for (int c = 0; c < C; ++c)
        store(o + c * kLanes, va * load(ah + c * kLanes) + vb * load(zh + c * kLanes));
    } else {
      for (int c = 0; c < C; ++c) store(o + c * kLanes, va * load(ah + c * kLanes));
    }
  }
}

inline void scatter_row_any(const float* w, const std::int64_t* perm, std::int64_t H, std::int64_t D,
                            const float* y, std::int64_t y_sn, std::int64_t y_sh, const std::int32_t* col,
                            std::int64_t begin, std::int64_t end, float a, float* out_row, std::int64_t o_sh,
                            float b, const float* z_row, std::int64_t z_sh, float* acc) {
  for (std::int64_t t = 0; t < H * D; ++t) acc[t] = 0.0f;
  for (std::int64_t t = begin; t < end; ++t) {
    const float* yr = y + col[t] * y_sn;
    const float* we = w + (perm ? perm[t] : t) * H;
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t x = 0; x < D; ++x) acc[h * D + x] += we[h] * yr[h * y_sh + x];
  }
  for (std::int64_t h = 0; h < H; ++h)
    for (std::int64_t x = 0; x < D; ++x)
      out_row[h * o_sh + x] = a * acc[h * D + x] + (b != 0.0f ? b * z_row[h * z_sh + x] : 0.0f);
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS
