// Dense panels (see panels.hpp): the kernels shared by the ordinary chunks (panels.cpp) and the
// hub-row chunks (panels_hub.cpp). Internal to engine/cpu.
#pragma once

#include "row_kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

// out_i = a * sum_e w_e x_src + b * y_i for every non-hub row i of the pass (hub rows:
// gather_hub_rows). A chunk with a panel is one unit of the pass, a chunk without one a row each.
// D in {16, 32, 64, 128}.
template <int D>
void panel_gather_axpby(const CsrView& g, const PanelPlan& plan, const float* w, float a,
                        Tensor3View<const float> x, float b, Tensor3View<const float> y,
                        Tensor3View<float> out, const PassRows& in_pass);

// Scores and row softmax of every non-hub row of the pass (hub rows: attention_hub_rows).
template <int D>
void panel_edge_attention(const CsrView& g, const PanelPlan& plan, Tensor3View<const float> q,
                          Tensor3View<const float> k, float scale, const std::uint8_t* mask, float* w,
                          const PassRows& in_pass);

// The same for the hub rows when the plan has hub chunks (false: it has none, nothing done); each
// hub chunk is one unit of the pass. A hub chunk's panel is split over threads by 16 fixed source
// segments; the hop sums the segments' partials in a fixed order, so results do not depend on the
// thread count.
template <int D>
bool panel_hub_gather_axpby(const CsrView& g, const PanelPlan& plan, const float* w, float a,
                            Tensor3View<const float> x, float b, Tensor3View<const float> y,
                            Tensor3View<float> out, const PassRows& in_pass);
template <int D>
bool panel_hub_edge_attention(const CsrView& g, const PanelPlan& plan, Tensor3View<const float> q,
                              Tensor3View<const float> k, float scale, const std::uint8_t* mask, float* w,
                              const PassRows& in_pass);

namespace panel_detail {

// Scratch that a TBB worker keeps between tasks (panel tiles are a few hundred KB: allocating them
// per task would page-fault every time).
inline float* thread_scratch(int which, std::size_t floats) {
  static thread_local std::vector<float> buf[3];
  std::vector<float>& v = buf[which];
  if (v.size() < floats) v.resize(floats);
  return v.data();
}

using namespace simd;

// Accumulator registers a micro-kernel may use (32 zmm with AVX-512, 16 ymm otherwise), and the
// row vectors a score block keeps in registers (its sources take the rest).
inline constexpr int kAccRegs = kLanes == 16 ? 16 : 8;
inline constexpr int kScoreRegs = kLanes == 16 ? 24 : 12;
inline constexpr int kScoreRowVecs = 2;

// acc[r*acc_rs + :D] (+)= sum_s wt[s*RP + r] * x_{src[s]} (one head) for rows r < m. wt holds RP
// rows per source, zero-padded. Register block: RB rows x CB vectors of D (4 x 64 floats with
// AVX-512; 4 x 16 with 16 ymm registers, 6 loads per 8 FMAs, where whole rows would take 9: 5 %
// faster per hop on Zen 5 than 2 x 32, and 12 accumulators spill or waste rows); X and wt of a
// source block stay in L1. Each output adds its sources in order, whatever the blocking, so the
// blocking never changes a result's bits.
template <int D>
void panel_hop_head(const float* wt, std::int64_t RP, std::int64_t S, const float* xh, std::int64_t x_sn,
                    const std::int32_t* src, std::int64_t m, float* acc, std::int64_t acc_rs, bool add) {
  constexpr int C = D / kLanes;
  constexpr int CB = std::min(C, kLanes == 16 ? 4 : 2);
  constexpr int RB = std::max(1, std::min(8, kAccRegs / CB));
  for (int c0 = 0; c0 < C; c0 += CB)
    for (std::int64_t r0 = 0; r0 < m; r0 += RB) {
      Vec a[RB][CB];
#pragma GCC unroll 8
      for (int rr = 0; rr < RB; ++rr)
#pragma GCC unroll 8
        for (int c = 0; c < CB; ++c) a[rr][c] = zero();
      const float* ws = wt + r0;
      for (std::int64_t s = 0; s < S; ++s, ws += RP) {
        const float* xs = xh + static_cast<std::int64_t>(src[s]) * x_sn + c0 * kLanes;
        Vec xv[CB];
#pragma GCC unroll 8
        for (int c = 0; c < CB; ++c) xv[c] = load(xs + c * kLanes);
#pragma GCC unroll 8
        for (int rr = 0; rr < RB; ++rr) {
          const float wv = ws[rr];  // scalar * vector: one broadcast (splat() builds lane by lane here)
#pragma GCC unroll 8
          for (int c = 0; c < CB; ++c) a[rr][c] += wv * xv[c];
        }
      }
#pragma GCC unroll 8
      for (int rr = 0; rr < RB; ++rr) {
        if (r0 + rr >= m) break;
        float* o = acc + (r0 + rr) * acc_rs + c0 * kLanes;
#pragma GCC unroll 8
        for (int c = 0; c < CB; ++c) store(o + c * kLanes, add ? load(o + c * kLanes) + a[rr][c] : a[rr][c]);
      }
    }
}

// slot_h[t] = slot[t] * H (or -1) for the count entries of a chunk's slot table.
inline void scale_slots(const std::int32_t* slot, std::int64_t count, std::int64_t H, std::int32_t* slot_h) {
  const auto h32 = static_cast<std::int32_t>(H);
  for (std::int64_t t = 0; t < count; ++t) slot_h[t] = slot[t] >= 0 ? slot[t] * h32 : -1;
}

#if DIFFUSER_ISA_LEVEL >= 4
// GCC 12 warns that the intrinsics' internal _mm512_undefined_ps() "may be used uninitialized".
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// In-register 16 x 16 transpose: x[j] lane i <- x[i] lane j (64 shuffles).
inline void transpose16(__m512 x[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(x[2 * i], x[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(x[2 * i], x[2 * i + 1]);
  }
  for (int q = 0; q < 4; ++q) {  // rows 4q..4q+3: u[4q + c] lane L = column 4L + c
    const __m512d t0 = _mm512_castps_pd(t[4 * q]), t1 = _mm512_castps_pd(t[4 * q + 1]);
    const __m512d t2 = _mm512_castps_pd(t[4 * q + 2]), t3 = _mm512_castps_pd(t[4 * q + 3]);
    u[4 * q] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    u[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    u[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    u[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
  for (int c = 0; c < 4; ++c) {
    const __m512 a = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44),
                 b = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
    const __m512 a2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
    const __m512 b2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
    x[c] = _mm512_shuffle_f32x4(a, a2, 0x88);
    x[4 + c] = _mm512_shuffle_f32x4(a, a2, 0xDD);
    x[8 + c] = _mm512_shuffle_f32x4(b, b2, 0x88);
    x[12 + c] = _mm512_shuffle_f32x4(b, b2, 0xDD);
  }
}
#pragma GCC diagnostic pop
#elif DIFFUSER_ISA_LEVEL == 3
// In-register 8 x 8 transpose: x[j] lane i <- x[i] lane j (24 shuffles).
inline void transpose8(__m256 x[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(x[2 * i], x[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(x[2 * i], x[2 * i + 1]);
  }
  for (int q = 0; q < 2; ++q) {  // rows 4q..4q+3: u[4q + c] holds columns c and c + 4
    u[4 * q] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * q + 1] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * q + 2] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * q + 3] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int c = 0; c < 4; ++c) {
    x[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    x[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}

// Lanes [0, n) of a mask vector set (maskload/maskstore read and write no other lane).
inline __m256i first_lanes(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#endif

// Packs the panel weights of sources [s0, s0 + ns) for every head, transposed:
// wt[h*HS + s*RP + r] = wb[r][slot_h[(s0 + s)*RP + r] + h] (wb: a base per row of the chunk), 0 where the
// slot is -1.
inline void pack_weights(const float* const* wb, const std::int32_t* slot_h, std::int64_t s0, std::int64_t ns,
                         std::int64_t RP, std::int64_t H, float* wt, std::int64_t HS) {
#if DIFFUSER_ISA_LEVEL >= 4
  for (std::int64_t h0 = 0; h0 < H; h0 += 16) {
    const int nh = static_cast<int>(std::min<std::int64_t>(16, H - h0));
    const __mmask16 hmask = static_cast<__mmask16>((1u << nh) - 1u);
    for (std::int64_t s = 0; s < ns; ++s)
      for (std::int64_t r0 = 0; r0 < RP; r0 += 16) {
        const std::int32_t* sl = slot_h + (s0 + s) * RP + r0;
        __m512 x[16];
        for (int j = 0; j < 16; ++j)
          x[j] = _mm512_maskz_loadu_ps(sl[j] >= 0 ? hmask : __mmask16{0},
                                       wb[r0 + j] + (sl[j] >= 0 ? sl[j] : 0) + h0);
        transpose16(x);
        for (int j = 0; j < nh; ++j) _mm512_storeu_ps(wt + (h0 + j) * HS + s * RP + r0, x[j]);
      }
  }
#elif DIFFUSER_ISA_LEVEL == 3
  for (std::int64_t h0 = 0; h0 < H; h0 += 8) {
    const int nh = static_cast<int>(std::min<std::int64_t>(8, H - h0));
    const __m256i hmask = first_lanes(nh);
    for (std::int64_t s = 0; s < ns; ++s)
      for (std::int64_t r0 = 0; r0 < RP; r0 += 8) {
        const std::int32_t* sl = slot_h + (s0 + s) * RP + r0;
        __m256 x[8];
        for (int j = 0; j < 8; ++j)
          x[j] = sl[j] >= 0 ? _mm256_maskload_ps(wb[r0 + j] + sl[j] + h0, hmask) : _mm256_setzero_ps();
        transpose8(x);
        for (int j = 0; j < nh; ++j) _mm256_storeu_ps(wt + (h0 + j) * HS + s * RP + r0, x[j]);
      }
  }
#else
  for (std::int64_t s = 0; s < ns; ++s)
    for (std::int64_t r = 0; r < RP; ++r) {
      const std::int32_t sl = slot_h[(s0 + s) * RP + r];
      for (std::int64_t h = 0; h < H; ++h) wt[h * HS + s * RP + r] = sl >= 0 ? wb[r][sl + h] : 0.0f;
    }
#endif
}

// The reverse for scores: wb[r][slot_h[(s0 + s)*RP + r] + h] = tile[h*HS + s*RP + r] * scale where the
// slot is not -1.
inline void unpack_scores(float* const* wb, const std::int32_t* slot_h, std::int64_t s0, std::int64_t ns,
                          std::int64_t RP, std::int64_t H, const float* tile, std::int64_t HS, float scale) {
#if DIFFUSER_ISA_LEVEL >= 4
  const __m512 sc = _mm512_set1_ps(scale);
  for (std::int64_t h0 = 0; h0 < H; h0 += 16) {
    const int nh = static_cast<int>(std::min<std::int64_t>(16, H - h0));
    const __mmask16 hmask = static_cast<__mmask16>((1u << nh) - 1u);
    for (std::int64_t s = 0; s < ns; ++s)
      for (std::int64_t r0 = 0; r0 < RP; r0 += 16) {
        const std::int32_t* sl = slot_h + (s0 + s) * RP + r0;
        __m512 x[16];
        for (int j = 0; j < 16; ++j)
          x[j] = j < nh ? _mm512_loadu_ps(tile + (h0 + j) * HS + s * RP + r0) : _mm512_setzero_ps();
        transpose16(x);
        for (int j = 0; j < 16; ++j)
          if (sl[j] >= 0) _mm512_mask_storeu_ps(wb[r0 + j] + sl[j] + h0, hmask, _mm512_mul_ps(x[j], sc));
      }
  }
#elif DIFFUSER_ISA_LEVEL == 3
  const __m256 sc = _mm256_set1_ps(scale);
  for (std::int64_t h0 = 0; h0 < H; h0 += 8) {
    const int nh = static_cast<int>(std::min<std::int64_t>(8, H - h0));
    const __m256i hmask = first_lanes(nh);
    for (std::int64_t s = 0; s < ns; ++s)
      for (std::int64_t r0 = 0; r0 < RP; r0 += 8) {
        const std::int32_t* sl = slot_h + (s0 + s) * RP + r0;
        __m256 x[8];
        for (int j = 0; j < 8; ++j)
          x[j] = j < nh ? _mm256_loadu_ps(tile + (h0 + j) * HS + s * RP + r0) : _mm256_setzero_ps();
        transpose8(x);
        for (int j = 0; j < 8; ++j)
          if (sl[j] >= 0) _mm256_maskstore_ps(wb[r0 + j] + sl[j] + h0, hmask, _mm256_mul_ps(x[j], sc));
      }
  }
#else
  for (std::int64_t s = 0; s < ns; ++s)
    for (std::int64_t r = 0; r < RP; ++r) {
      const std::int32_t sl = slot_h[(s0 + s) * RP + r];
      if (sl >= 0)
        for (std::int64_t h = 0; h < H; ++h) wb[r][sl + h] = tile[h * HS + s * RP + r] * scale;
    }
#endif
}

// accumulate_at and score_edges over a list of edges (base + off[t]) instead of a range.
template <int D>
void accumulate_list(const float* w, std::int64_t H, const float* x, std::int64_t x_sn, std::int64_t x_sh,
                     const std::int32_t* col, std::int64_t base, const std::int32_t* off, std::int64_t count,
                     float* acc) {
  accumulate_at<D>(
      w, H, x, x_sn, x_sh, col, [base, off](std::int64_t t) { return base + off[t]; }, count, acc);
}

template <int D>
void score_list(const float* q_row, std::int64_t q_sh, const float* k, std::int64_t k_sn, std::int64_t k_sh,
                const std::int32_t* col, std::int64_t base, const std::int32_t* off, std::int64_t count,
                std::int64_t H, float scale, float* w) {
  score_edges<D>(
      q_row, q_sh, k, k_sn, k_sh, col, [base, off](std::int64_t t) { return base + off[t]; }, count, H, scale,
      w);
}

// tile[sb*RPq + r] = sum_d qt[d*RPq + r] * k_{src[sb]}[d] for sb < nb (one head): the chunk's
// transposed queries times the panel's keys, V vectors of rows by SB sources in registers.
template <int D, int V>
void panel_scores_block(const float* qt, std::int64_t RPq, const float* kh, std::int64_t k_sn,
                        const std::int32_t* src, std::int64_t nb, float* tile) {
  constexpr int SB = kScoreRegs / V;
  const float* kp[SB];
#pragma GCC unroll 24
  for (int sb = 0; sb < SB; ++sb)
    kp[sb] = kh + static_cast<std::int64_t>(src[std::min<std::int64_t>(sb, nb - 1)]) * k_sn;
  Vec a[SB][V];
#pragma GCC unroll 24
  for (int sb = 0; sb < SB; ++sb)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) a[sb][v] = zero();
  for (int d = 0; d < D; ++d) {
    Vec qv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) qv[v] = load(qt + d * RPq + v * kLanes);
#pragma GCC unroll 24
    for (int sb = 0; sb < SB; ++sb) {
      const float kv = kp[sb][d];
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) a[sb][v] += kv * qv[v];
    }
  }
#pragma GCC unroll 24
  for (int sb = 0; sb < SB; ++sb)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) store(tile + sb * RPq + v * kLanes, a[sb][v]);
}

// Scores of panel sources [0, ns) for one head: tile[s*RP + r] (rows of register blocks past ns are
// written too: the tile has room for round_up(ns, SB) sources). Rows in groups of kScoreRowVecs
// vectors (then single vectors for the rest of RP, a multiple of 16).
template <int D, int V>
void panel_scores_rows(const float* qt, std::int64_t RP, const float* kh, std::int64_t k_sn,
                       const std::int32_t* src, std::int64_t ns, float* tile) {
  constexpr int SB = kScoreRegs / V;
  for (std::int64_t s0 = 0; s0 < ns; s0 += SB)
    panel_scores_block<D, V>(qt, RP, kh, k_sn, src + s0, std::min<std::int64_t>(SB, ns - s0), tile + s0 * RP);
}
template <int D>
void panel_scores_head(const float* qt, std::int64_t RP, const float* kh, std::int64_t k_sn,
                       const std::int32_t* src, std::int64_t ns, float* tile) {
  constexpr int V = kScoreRowVecs;
  std::int64_t r0 = 0;
  for (; r0 + V * kLanes <= RP; r0 += V * kLanes)
    panel_scores_rows<D, V>(qt + r0, RP, kh, k_sn, src, ns, tile + r0);
  for (; r0 < RP; r0 += kLanes) panel_scores_rows<D, 1>(qt + r0, RP, kh, k_sn, src, ns, tile + r0);
}

// The chunk's queries, transposed per head: qt[(h*D + d)*RP + r] for rows[r], r < m; the padding
// rows m <= r < RP are zero.
template <int D>
void transpose_queries(Tensor3View<const float> q, const std::int64_t* rows, std::int64_t m, std::int64_t RP,
                       float* qt) {
  for (std::int64_t h = 0; h < q.h; ++h) {
    float* qth = qt + h * D * RP;
    for (std::int64_t r = 0; r < RP; ++r) {
      const float* qr = r < m ? q.row(rows[r]) + h * q.stride_h : nullptr;
      for (int d = 0; d < D; ++d) qth[d * RP + r] = qr != nullptr ? qr[d] : 0.0f;
    }
  }
}

// Scores of the panel sources src[0, n) of every head, kSourceBlock at a time through the per-head
// `tile` (stride HS), scattered to the rows' weights wb[r] by slot_h (see unpack_scores).
template <int D>
void panel_scores(const float* qt, std::int64_t RP, Tensor3View<const float> k, const std::int32_t* src,
                  std::int64_t n, float* tile, std::int64_t HS, float* const* wb, const std::int32_t* slot_h,
                  float scale) {
  const std::int64_t H = k.h;
  for (std::int64_t s0 = 0; s0 < n; s0 += kSourceBlock) {
    const std::int64_t ns = std::min(kSourceBlock, n - s0);
    for (std::int64_t h = 0; h < H; ++h) {
      const float* kh = k.data + h * k.stride_h;
      const float* qth = qt + h * D * RP;
      float* th = tile + h * HS;
      panel_scores_head<D>(qth, RP, kh, k.stride_n, src + s0, ns, th);
    }
    unpack_scores(wb, slot_h, s0, ns, RP, H, tile, HS, scale);
  }
}

template <class Body>
void for_each_chunk(const PanelPlan& plan, Body&& body) {
  tbb::parallel_for(
      tbb::blocked_range<std::size_t>(0, plan.chunks.size(), 1),
      [&](const tbb::blocked_range<std::size_t>& r) {
        for (std::size_t c = r.begin(); c < r.end(); ++c) body(plan.chunks[c]);
      },
      tbb::simple_partitioner());
}

}  // namespace panel_detail

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS
