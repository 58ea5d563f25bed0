// Per-row building blocks shared by the plain and fused CPU primitives. Each works on one
// destination row i of the CSR: its edges are [begin, end) with sources col[begin..end).
#pragma once

#include "simd.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

// True when the edge j -> i carries weight under the padding mask (empty mask: every edge does).
inline bool edge_unmasked(const std::uint8_t* mask, std::int64_t i, std::int32_t j) {
  return mask == nullptr || (mask[i] != 0 && mask[j] != 0);
}

// put(e, h, scale * <q_i,h , k_j,h>) for the edges e = edge(t), t < count, of one row. Four edges
// at a time: each q vector load serves four dot products, the neighbours' k rows are read front to
// back (all heads, contiguous, which the hardware prefetcher streams), and the four sums are reduced
// together. `edge` maps a position to an edge index (a range, or a list of offsets).
template <int D, class EdgeAt, class Put>
void dot_edges(const float* q_row, std::int64_t q_sh, const float* k, std::int64_t k_sn, std::int64_t k_sh,
               const std::int32_t* col, EdgeAt edge, std::int64_t count, std::int64_t H, float scale,
               Put put) {
  using namespace simd;
  constexpr int C = D / kLanes;
  std::int64_t t = 0;
  for (; t + 4 <= count; t += 4) {
    if (t + 12 <= count) {  // start the rows two groups ahead: the stream prefetcher follows them
      for (int u = 8; u < 12; ++u) __builtin_prefetch(k + col[edge(t + u)] * k_sn);
    }
    const std::int64_t e0 = edge(t), e1 = edge(t + 1), e2 = edge(t + 2), e3 = edge(t + 3);
    const float* k0 = k + col[e0] * k_sn;
    const float* k1 = k + col[e1] * k_sn;
    const float* k2 = k + col[e2] * k_sn;
    const float* k3 = k + col[e3] * k_sn;
    for (std::int64_t h = 0; h < H; ++h) {
      const float* qh = q_row + h * q_sh;
      const std::int64_t off = h * k_sh;
      Vec a0 = zero(), a1 = zero(), a2 = zero(), a3 = zero();
      for (int c = 0; c < C; ++c) {
        const Vec qv = load(qh + c * kLanes);
        const std::int64_t o = off + c * kLanes;
        a0 += qv * load(k0 + o);
        a1 += qv * load(k1 + o);
        a2 += qv * load(k2 + o);
        a3 += qv * load(k3 + o);
      }
      const Vec4 sc = hsum4(a0, a1, a2, a3) * scale;
      put(e0, h, sc[0]);
      put(e1, h, sc[1]);
      put(e2, h, sc[2]);
      put(e3, h, sc[3]);
    }
  }
  for (; t < count; ++t) {
    const std::int64_t e = edge(t);
    const float* kr = k + col[e] * k_sn;
    for (std::int64_t h = 0; h < H; ++h) {
      const float* qh = q_row + h * q_sh;
      const float* kh = kr + h * k_sh;
      Vec acc = zero();
      for (int c = 0; c < C; ++c) acc += load(qh + c * kLanes) * load(kh + c * kLanes);
      put(e, h, hsum(acc) * scale);
    }
  }
}

// w[e*H + h] = scale * <q_i,h , k_j,h> (dot_edges into the edge-major scores).
template <int D, class EdgeAt>
void score_edges(const float* q_row, std::int64_t q_sh, const float* k, std::int64_t k_sn, std::int64_t k_sh,
                 const std::int32_t* col, EdgeAt edge, std::int64_t count, std::int64_t H, float scale,
                 float* w) {
  dot_edges<D>(q_row, q_sh, k, k_sn, k_sh, col, edge, count, H, scale,
               [w, H](std::int64_t e, std::int64_t h, float s) { w[e * H + h] = s; });
}

// score_edges over the row's edge range [begin, end).
template <int D>
void score_row(const float* q_row, std::int64_t q_sh, const float* k, std::int64_t k_sn, std::int64_t k_sh,
               const std::int32_t* col, std::int64_t begin, std::int64_t end, std::int64_t H, float scale,
               float* w) {
  score_edges<D>(
      q_row, q_sh, k, k_sn, k_sh, col, [begin](std::int64_t t) { return begin + t; }, end - begin, H, scale,
      w);
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

// Scratch a row softmax needs: kLanes*H accumulators, H per-head values, a pattern of H + kLanes.
inline std::int64_t softmax_scratch_floats(std::int64_t H) {
  return (simd::kLanes + 2) * H + simd::kLanes;
}

namespace detail {

// sum[h] = w[h] + w[H + h] + w[2H + h] + ... over the deg edges of a row, added in edge order: the
// same for every H, so a head gives the same bits whether its row block holds all heads or a head
// group's (the backward in head groups, store/recompute/keep) and whatever the vector width. Up to
// 16 heads stay in two 8-lane registers (lanes past H add the next edge's heads, never read).
inline void sum_by_head(const float* w, std::int64_t deg, std::int64_t H, float* sum) {
  using namespace simd;
  std::int64_t e = 0;
  if (H <= 16) {
    Vec8 a0 = splat8(0.0f), a1 = splat8(0.0f);
    for (; e * H + 16 <= deg * H; ++e) {
      a0 += load8(w + e * H);
      a1 += load8(w + e * H + 8);
    }
    float lanes[16];
    store8(lanes, a0);
    store8(lanes + 8, a1);
    for (std::int64_t h = 0; h < H; ++h) sum[h] = lanes[h];
  } else {
    for (std::int64_t h = 0; h < H; ++h) sum[h] = 0.0f;
  }
  for (; e < deg; ++e)
    for (std::int64_t h = 0; h < H; ++h) sum[h] += w[e * H + h];
}

// Softmax of an unmasked row, vectorized over the row's flat (deg x H) block: flat index f holds
// head f % H. Maxima (exact in any order) are gathered in H vector accumulators (period kLanes*H),
// so no lane is wasted whatever H is; the exponentials are elementwise; the sums are added in edge
// order (sum_by_head). `scratch` holds softmax_scratch_floats(H) floats.
inline void softmax_row_flat(float* w, std::int64_t count, std::int64_t H, float* scratch) {
  using namespace simd;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const std::int64_t full = count / kLanes * kLanes;
  const std::int64_t period = kLanes * H;
  float* acc = scratch;                // acc vector j covers flat offsets j*kLanes .. (mod period)
  float* per_head = scratch + period;  // H floats
  float* pattern = per_head + H;       // per_head repeated: pattern[t] = per_head[t % H], H + kLanes floats
  auto fill_pattern = [&] {
    for (std::int64_t t = 0; t < H + kLanes; ++t) pattern[t] = per_head[t % H];
  };
  // pass 1: maxima
  for (std::int64_t t = 0; t < period; ++t) acc[t] = kNegInf;
  std::int64_t j = 0;
  for (std::int64_t f = 0; f < full; f += kLanes) {
    store(acc + j * kLanes, max(load(w + f), load(acc + j * kLanes)));
    if (++j == H) j = 0;
  }
  for (std::int64_t h = 0; h < H; ++h) per_head[h] = kNegInf;
  for (std::int64_t t = 0; t < period; ++t) per_head[t % H] = std::max(per_head[t % H], acc[t]);
  for (std::int64_t f = full; f < count; ++f) per_head[f % H] = std::max(per_head[f % H], w[f]);
  fill_pattern();
  // pass 2: exponentials, then the sums
  std::int64_t phase = 0;  // f % H
  for (std::int64_t f = 0; f < full; f += kLanes) {
    store(w + f, exp(load(w + f) - load(pattern + phase)));
    phase = (phase + kLanes) % H;
  }
  for (std::int64_t f = full; f < count; ++f) w[f] = exp(splat(w[f] - per_head[f % H]))[0];
  sum_by_head(w, count / H, H, per_head);
  for (std::int64_t h = 0; h < H; ++h) per_head[h] = 1.0f / per_head[h];
  fill_pattern();
  // pass 3: normalise
  phase = 0;
  for (std::int64_t f = 0; f < full; f += kLanes) {
    store(w + f, load(w + f) * load(pattern + phase));
    phase = (phase + kLanes) % H;
  }
  for (std::int64_t f = full; f < count; ++f) w[f] *= per_head[f % H];
}

}  // namespace detail

// Softmax of one row in place: w[e*H + h] for e in [begin, end). Masked edges and rows with no
// unmasked edge get 0. `scratch` holds softmax_scratch_floats(H) floats.
inline void softmax_row(float* w, std::int64_t begin, std::int64_t end, std::int64_t H,
                        const std::int32_t* col, const std::uint8_t* mask, std::int64_t i, float* scratch) {
  using namespace simd;
  if (mask == nullptr) {
    if (end > begin) detail::softmax_row_flat(w + begin * H, (end - begin) * H, H, scratch);
    return;
  }
  // With a padding mask: per head, skipping masked edges (the rarer, slower path).
  std::int64_t live = 0;
  for (std::int64_t e = begin; e < end; ++e) live += edge_unmasked(mask, i, col[e]);
  if (live == 0) {
    std::fill(w + begin * H, w + end * H, 0.0f);
    return;
  }
  for (std::int64_t h = 0; h < H; ++h) {
    float m = -std::numeric_limits<float>::infinity();
    for (std::int64_t e = begin; e < end; ++e)
      if (edge_unmasked(mask, i, col[e])) m = std::max(m, w[e * H + h]);
    float sum = 0.0f;
    for (std::int64_t e = begin; e < end; ++e) {
      float& x = w[e * H + h];
      x = edge_unmasked(mask, i, col[e]) ? exp(splat(x - m))[0] : 0.0f;
      sum += x;
    }
    const float inv = 1.0f / sum;
    for (std::int64_t e = begin; e < end; ++e) w[e * H + h] *= inv;
  }
}

// acc[h*D + :] += sum over the edges e = edge(t), t < count, of w[e*H + h] * x_j,h. Edge-major:
// each neighbour's row (all heads) is streamed once, four edges at a time, into an (H, D)
// accumulator that stays in L1. The rows two groups ahead are prefetched so the stream prefetcher
// follows them. `weight_row` maps an edge to its row of w (the reverse graph's edges read
// forward-order weights through its permutation).
struct SameRow {
  std::int64_t operator()(std::int64_t e) const { return e; }
};
template <int D, class EdgeAt, class WeightRow = SameRow>
void accumulate_at(const float* w, std::int64_t H, const float* x, std::int64_t x_sn, std::int64_t x_sh,
                   const std::int32_t* col, EdgeAt edge, std::int64_t count, float* acc,
                   WeightRow weight_row = {}) {
  using namespace simd;
  constexpr int C = D / kLanes8;
  std::int64_t t = 0;
  for (; t + 4 <= count; t += 4) {
    if (t + 12 <= count) {
      for (int u = 8; u < 12; ++u) __builtin_prefetch(x + col[edge(t + u)] * x_sn);
    }
    const std::int64_t e0 = edge(t), e1 = edge(t + 1), e2 = edge(t + 2), e3 = edge(t + 3);
    const float* x0 = x + col[e0] * x_sn;
    const float* x1 = x + col[e1] * x_sn;
    const float* x2 = x + col[e2] * x_sn;
    const float* x3 = x + col[e3] * x_sn;
    const std::int64_t r0 = weight_row(e0), r1 = weight_row(e1), r2 = weight_row(e2), r3 = weight_row(e3);
    for (std::int64_t h = 0; h < H; ++h) {
      const Vec8 w0 = splat8(w[r0 * H + h]), w1 = splat8(w[r1 * H + h]), w2 = splat8(w[r2 * H + h]),
                 w3 = splat8(w[r3 * H + h]);
      const std::int64_t off = h * x_sh;
      float* ah = acc + h * D;
      for (int c = 0; c < C; ++c) {
        const std::int64_t o = off + c * kLanes8;
        store8(ah + c * kLanes8, load8(ah + c * kLanes8) + w0 * load8(x0 + o) + w1 * load8(x1 + o) +
                                     w2 * load8(x2 + o) + w3 * load8(x3 + o));
      }
    }
  }
  for (; t < count; ++t) {
    const std::int64_t e = edge(t);
    const float* xr = x + col[e] * x_sn;
    const std::int64_t re = weight_row(e);
    for (std::int64_t h = 0; h < H; ++h) {
      const Vec8 we = splat8(w[re * H + h]);
      float* ah = acc + h * D;
      for (int c = 0; c < C; ++c)
        store8(ah + c * kLanes8, load8(ah + c * kLanes8) + we * load8(xr + h * x_sh + c * kLanes8));
    }
  }
}

// accumulate_at over the row's edge range [begin, end).
template <int D, class WeightRow = SameRow>
void accumulate_edges(const float* w, std::int64_t H, const float* x, std::int64_t x_sn, std::int64_t x_sh,
                      const std::int32_t* col, std::int64_t begin, std::int64_t end, float* acc,
                      WeightRow weight_row = {}) {
  accumulate_at<D>(
      w, H, x, x_sn, x_sh, col, [begin](std::int64_t t) { return begin + t; }, end - begin, acc, weight_row);
}

// out_i,h = a * acc_h + b * y_i,h (y ignored when b == 0).
template <int D>
void finish_row(const float* acc, std::int64_t H, float a, float* out_row, std::int64_t o_sh, float b,
                const float* y_row, std::int64_t y_sh) {
  using namespace simd;
  constexpr int C = D / kLanes8;
  const Vec8 va = splat8(a), vb = splat8(b);
  for (std::int64_t h = 0; h < H; ++h) {
    float* o = out_row + h * o_sh;
    const float* ah = acc + h * D;
    if (b != 0.0f) {
      const float* yh = y_row + h * y_sh;
      for (int c = 0; c < C; ++c)
        store8(o + c * kLanes8, va * load8(ah + c * kLanes8) + vb * load8(yh + c * kLanes8));
    } else {
      for (int c = 0; c < C; ++c) store8(o + c * kLanes8, va * load8(ah + c * kLanes8));
    }
  }
}

// out_i,h = a * sum_e w[weight_row(e)*H + h] * x_j,h + b * y_i,h for one row; `acc` is H*D floats
// of scratch (so y_row may be out_row).
template <int D, class WeightRow = SameRow>
void gather_row(const float* w, std::int64_t H, const float* x, std::int64_t x_sn, std::int64_t x_sh,
                const std::int32_t* col, std::int64_t begin, std::int64_t end, float a, float* out_row,
                std::int64_t o_sh, float b, const float* y_row, std::int64_t y_sh, float* acc,
                WeightRow weight_row = {}) {
  std::fill(acc, acc + H * D, 0.0f);
  accumulate_edges<D>(w, H, x, x_sn, x_sh, col, begin, end, acc, weight_row);
  finish_row<D>(acc, H, a, out_row, o_sh, b, y_row, y_sh);
}

// Any D: plain loops (correct, slower); `acc` is D floats of scratch, so y_row may be out_row.
template <class WeightRow = SameRow>
void gather_row_any(const float* w, std::int64_t H, std::int64_t D, const float* x, std::int64_t x_sn,
                    std::int64_t x_sh, const std::int32_t* col, std::int64_t begin, std::int64_t end, float a,
                    float* out_row, std::int64_t o_sh, float b, const float* y_row, std::int64_t y_sh,
                    float* acc, WeightRow weight_row = {}) {
  for (std::int64_t h = 0; h < H; ++h) {
    std::fill(acc, acc + D, 0.0f);
    for (std::int64_t e = begin; e < end; ++e) {
      const float we = w[weight_row(e) * H + h];
      const float* xr = x + col[e] * x_sn + h * x_sh;
      for (std::int64_t t = 0; t < D; ++t) acc[t] += we * xr[t];
    }
    float* o = out_row + h * o_sh;
    for (std::int64_t t = 0; t < D; ++t) o[t] = a * acc[t] + (b != 0.0f ? b * y_row[h * y_sh + t] : 0.0f);
  }
}

// Calls f.template operator()<D>() for the head sizes with a specialised kernel, or f(0) otherwise.
template <class F>
void dispatch_head_dim(std::int64_t d, F&& f) {
  switch (d) {
    case 16:
      f.template operator()<16>();
      break;
    case 32:
      f.template operator()<32>();
      break;
    case 64:
      f.template operator()<64>();
      break;
    case 128:
      f.template operator()<128>();
      break;
    default:
      f.template operator()<0>();
      break;
  }
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS
