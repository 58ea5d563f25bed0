// Per-row building blocks shared by the plain and fused CPU primitives. Each works on one
// destination row i of the CSR: its edges are [begin, end) with sources col[begin..end).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include <diffuser/engine/tensor.hpp>

#include "simd.hpp"

namespace diffuser::cpu {

// True when the edge j -> i carries weight under the padding mask (empty mask: every edge does).
inline bool edge_unmasked(const std::uint8_t* mask, std::int64_t i, std::int32_t j) {
  return mask == nullptr || (mask[i] != 0 && mask[j] != 0);
}

// w[e*H + h] = scale * <q_i,h , k_j,h> for the edges of one row. D known at compile time keeps
// q_i,h in registers; four edges are reduced together.
template <int D>
void score_row(const float* q_row, std::int64_t q_sh, const float* k, std::int64_t k_sn,
               std::int64_t k_sh, const std::int32_t* col, std::int64_t begin, std::int64_t end,
               std::int64_t H, float scale, float* w) {
  using namespace simd;
  constexpr int C = D / kLanes;
  for (std::int64_t h = 0; h < H; ++h) {
    Vec q[C];
    for (int c = 0; c < C; ++c) q[c] = load(q_row + h * q_sh + c * kLanes);
    const float* kh = k + h * k_sh;
    std::int64_t e = begin;
    for (; e + 4 <= end; e += 4) {
      const float* k0 = kh + col[e] * k_sn;
      const float* k1 = kh + col[e + 1] * k_sn;
      const float* k2 = kh + col[e + 2] * k_sn;
      const float* k3 = kh + col[e + 3] * k_sn;
      Vec a0 = zero(), a1 = zero(), a2 = zero(), a3 = zero();
      for (int c = 0; c < C; ++c) {
        a0 += q[c] * load(k0 + c * kLanes);
        a1 += q[c] * load(k1 + c * kLanes);
        a2 += q[c] * load(k2 + c * kLanes);
        a3 += q[c] * load(k3 + c * kLanes);
      }
      const Vec4 s = hsum4(a0, a1, a2, a3);
      w[e * H + h] = s[0] * scale;
      w[(e + 1) * H + h] = s[1] * scale;
      w[(e + 2) * H + h] = s[2] * scale;
      w[(e + 3) * H + h] = s[3] * scale;
    }
    for (; e < end; ++e) {
      const float* kr = kh + col[e] * k_sn;
      Vec a = zero();
      for (int c = 0; c < C; ++c) a += q[c] * load(kr + c * kLanes);
      w[e * H + h] = hsum(a) * scale;
    }
  }
}

// Any D: plain loops (correct, slower).
inline void score_row_any(const float* q_row, std::int64_t q_sh, const float* k, std::int64_t k_sn,
                          std::int64_t k_sh, const std::int32_t* col, std::int64_t begin, std::int64_t end,
                          std::int64_t H, std::int64_t D, float scale, float* w) {
  for (std::int64_t e = begin; e < end; ++e) {
    const float* kr = k + col[e] * k_sn;
    for (std::int64_t h = 0; h < H; ++h) {
      float s = 0.0f;
      for (std::int64_t x = 0; x < D; ++x) s += q_row[h * q_sh + x] * kr[h * k_sh + x];
      w[e * H + h] = s * scale;
    }
  }
}

// Softmax of one row in place, vectorized across heads: w[e*H + h] for e in [begin, end).
// Masked edges and rows with no unmasked edge get 0.
inline void softmax_row(float* w, std::int64_t begin, std::int64_t end, std::int64_t H,
                        const std::int32_t* col, const std::uint8_t* mask, std::int64_t i) {
  using namespace simd;
  std::int64_t live = 0;
  for (std::int64_t e = begin; e < end; ++e) live += edge_unmasked(mask, i, col[e]);
  if (live == 0) {
    std::fill(w + begin * H, w + end * H, 0.0f);
    return;
  }
  for (std::int64_t hb = 0; hb < H; hb += kLanes) {
    const auto width = static_cast<std::size_t>(std::min<std::int64_t>(kLanes, H - hb));
    auto get = [&](std::int64_t e) {
      Vec v = splat(-std::numeric_limits<float>::infinity());
      std::memcpy(&v, w + e * H + hb, width * sizeof(float));
      return v;
    };
    auto put = [&](std::int64_t e, Vec v) { std::memcpy(w + e * H + hb, &v, width * sizeof(float)); };
    Vec m = splat(-std::numeric_limits<float>::infinity());
    for (std::int64_t e = begin; e < end; ++e)
      if (edge_unmasked(mask, i, col[e])) m = max(get(e), m);
    Vec sum = zero();
    for (std::int64_t e = begin; e < end; ++e) {
      if (edge_unmasked(mask, i, col[e])) {
        const Vec p = exp(get(e) - m);
        sum += p;
        put(e, p);
      } else {
        put(e, zero());
      }
    }
    const Vec inv = splat(1.0f) / sum;
    for (std::int64_t e = begin; e < end; ++e) put(e, get(e) * inv);
  }
}

// out_i,h = a * sum_e w[e*H + h] * x_j,h + b * y_i,h for one row (y ignored when b == 0).
template <int D>
void gather_row(const float* w, std::int64_t H, const float* x, std::int64_t x_sn, std::int64_t x_sh,
                const std::int32_t* col, std::int64_t begin, std::int64_t end, float a, float* out_row,
                std::int64_t o_sh, float b, const float* y_row, std::int64_t y_sh) {
  using namespace simd;
  constexpr int C = D / kLanes;
  for (std::int64_t h = 0; h < H; ++h) {
    Vec acc[C];
    for (int c = 0; c < C; ++c) acc[c] = zero();
    const float* xh = x + h * x_sh;
    for (std::int64_t e = begin; e < end; ++e) {
      const Vec we = splat(w[e * H + h]);
      const float* xr = xh + col[e] * x_sn;
      for (int c = 0; c < C; ++c) acc[c] += we * load(xr + c * kLanes);
    }
    float* o = out_row + h * o_sh;
    const Vec va = splat(a);
    if (b != 0.0f) {
      const Vec vb = splat(b);
      const float* yh = y_row + h * y_sh;
      for (int c = 0; c < C; ++c) store(o + c * kLanes, va * acc[c] + vb * load(yh + c * kLanes));
    } else {
      for (int c = 0; c < C; ++c) store(o + c * kLanes, va * acc[c]);
    }
  }
}

inline void gather_row_any(const float* w, std::int64_t H, std::int64_t D, const float* x, std::int64_t x_sn,
                           std::int64_t x_sh, const std::int32_t* col, std::int64_t begin, std::int64_t end,
                           float a, float* out_row, std::int64_t o_sh, float b, const float* y_row,
                           std::int64_t y_sh) {
  for (std::int64_t h = 0; h < H; ++h) {
    float* o = out_row + h * o_sh;
    std::fill(o, o + D, 0.0f);
    for (std::int64_t e = begin; e < end; ++e) {
      const float we = w[e * H + h];
      const float* xr = x + col[e] * x_sn + h * x_sh;
      for (std::int64_t t = 0; t < D; ++t) o[t] += we * xr[t];
    }
    for (std::int64_t t = 0; t < D; ++t) o[t] = a * o[t] + (b != 0.0f ? b * y_row[h * y_sh + t] : 0.0f);
  }
}

// Calls f.template operator()<D>() for the head sizes with a specialised kernel, or f(0) otherwise.
template <class F>
void dispatch_head_dim(std::int64_t d, F&& f) {
  switch (d) {
    case 16: f.template operator()<16>(); break;
    case 32: f.template operator()<32>(); break;
    case 64: f.template operator()<64>(); break;
    case 128: f.template operator()<128>(); break;
    default: f.template operator()<0>(); break;
  }
}

}  // namespace diffuser::cpu
