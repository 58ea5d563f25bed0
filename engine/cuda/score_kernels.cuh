// Kernels of the attention scores and the fused scores + softmax:
//   score_warp     one warp per (destination row, head), head-major grid like hop_warp. LPE lanes
//                  per edge (8: each lane holds 8 of q's 64 features, 4 edges per load
//                  instruction, 3 shuffles per dot product instead of 5). The loop tracks only the
//                  row maximum; the raw scores wait in shared memory, and the softmax then runs with
//                  one lane per edge (one exp per edge), storing the weights coalesced. Masked
//                  edges get -inf, then 0. Hub rows are skipped (hub path).
//   score_generic  any head size or alignment, every row.
//   hub_score_*    hub rows as a dense product of the hubs' q and k tiles in shared memory, per
//                  source range an online (max, sum), combined in range order, then a pass
//                  normalising the hub edges.
#pragma once

#include <climits>
#include <cstdint>

#include "hop_kernels.cuh"
#include "vec.cuh"

namespace diffuser::cuda {

template <class T>
struct ScoreArgs {
  const std::int64_t* row_ptr;
  const std::int32_t* col;
  std::int64_t n;
  const T* q;
  std::int64_t q_sn, q_sh;
  const T* k;
  std::int64_t k_sn, k_sh;
  float* w;  // element (e, h) at w[e * wse + h * wsh]
  std::int64_t wse, wsh;
  const std::uint8_t* mask;  // nullptr: every token real
  float scale;
  int heads, d;
  std::int64_t hub_min;
};

__device__ __forceinline__ bool token_real(const std::uint8_t* mask, std::int64_t t) {
  return mask == nullptr || __ldg(mask + t) != 0;
}

// Scores of the `cnt` (<= 32) edges of one batch. sj[idx] holds edge idx's source, or ~source when
// the edge is masked (sources are >= 0). Each group of LPE lanes computes one dot product per
// load; STEP edges are loaded per step before any is used. The group leader stores the raw score
// (-inf when masked) at out[idx * ostride]; every lane of the group keeps the running maximum.
template <class T, int VEC, int LPE, int STEP>
__device__ __forceinline__ void score_batch(const T* __restrict__ kh, std::uint32_t k_sn,
                                            const float (&qv)[VEC], const int* sj, int cnt, float* out,
                                            std::int64_t ostride, int group, int gl, float& m) {
  constexpr int EPS = 32 / LPE;
  constexpr int U = STEP / EPS;
  static_assert(U >= 1 && STEP % EPS == 0 && 32 % STEP == 0, "STEP: a multiple of the edges per load");
  for (int t = 0; t < cnt; t += STEP) {
    float dot[U];
    bool ok[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      // Slots past the batch's end hold 0 (row 0, unmasked): loaded, never stored.
      const int code = sj[t + u * EPS + group];
      ok[u] = code >= 0;
      const int j = code >= 0 ? code : ~code;
      float kv[VEC];
      load_vec<VEC>(kh + row_offset(j, k_sn), kv);
      float s = 0.0f;
#pragma unroll
      for (int c = 0; c < VEC; ++c) s = fmaf(qv[c], kv[c], s);
      dot[u] = s;
    }
#pragma unroll
    for (int u = 0; u < U; ++u)
#pragma unroll
      for (int off = 1; off < LPE; off <<= 1) dot[u] += __shfl_xor_sync(kFull, dot[u], off);
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int idx = t + u * EPS + group;
      if (idx < cnt) {
        const float sc = ok[u] ? dot[u] : -INFINITY;
        if (gl == 0) out[idx * ostride] = sc;
        m = fmaxf(m, sc);
      }
    }
  }
}

// Merges the online softmax states of the lane groups (every lane ends with the row's state).
template <int LPE>
__device__ __forceinline__ SoftmaxState merge_groups(SoftmaxState st) {
#pragma unroll
  for (int off = LPE; off < 32; off <<= 1) {
    const SoftmaxState other{__shfl_xor_sync(kFull, st.m, off), __shfl_xor_sync(kFull, st.s, off)};
    st = softmax_merge(st, other);
  }
  return st;
}

// Rewrites the raw scores of edges [rb, re) of one head as weights, lanes striding by `stride`,
// four loads in flight per lane.
__device__ __forceinline__ void normalise(float* wh, std::int64_t wse, std::int64_t rb, std::int64_t re,
                                          int first, int stride, SoftmaxState st) {
  const float inv = st.s > 0.0f ? 1.0f / st.s : 0.0f;
  for (std::int64_t e0 = rb + first; e0 < re; e0 += 4 * static_cast<std::int64_t>(stride)) {
    float raw[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      const std::int64_t e = e0 + static_cast<std::int64_t>(u) * stride;
      raw[u] = e < re ? wh[e * wse] : -INFINITY;
    }
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      const std::int64_t e = e0 + static_cast<std::int64_t>(u) * stride;
      if (e < re) wh[e * wse] = raw[u] == -INFINITY ? 0.0f : expf(raw[u] - st.m) * inv;
    }
  }
}

// Raw scores of rows up to this degree wait in shared memory for the softmax (16 KB per CTA);
// longer rows use the weights array itself.
inline constexpr int kScoreBuf = 512;

// One warp per (row, head), head-major grid. Per batch of 32 edges the lanes load the sources and
// mask verdicts (coalesced) into shared memory; the dot products follow, STEP edges per step,
// tracking only the row maximum. Then the softmax runs over the row's raw scores with one lane
// per edge (one exp per edge, not one per lane of a group): exponentials and their sum, then the
// normalised weights stored coalesced. At most 64 registers (4 CTAs per SM).
template <class T, int D, int LPE, int STEP, bool SOFTMAX>
__global__ void __launch_bounds__(kWarps * 32, 4) score_warp(const ScoreArgs<T> p, const std::int64_t tiles) {
  constexpr int VEC = D / LPE;
  __shared__ int staged[kWarps][32];
  __shared__ float raw[SOFTMAX ? kWarps : 1][SOFTMAX ? kScoreBuf : 1];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int group = lane / LPE, gl = lane % LPE;
  const std::int64_t h = blockIdx.x / tiles, tile = blockIdx.x % tiles;
  const T* kh = p.k + h * p.k_sh + gl * VEC;
  float* wh = p.w + h * p.wsh;
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const std::int64_t i = tile * kTileRows + r * kWarps + warp;
    if (i >= p.n) break;
    const std::int64_t rb = __ldg(p.row_ptr + i), re = __ldg(p.row_ptr + i + 1);
    if (re - rb > p.hub_min) continue;
    const std::int64_t deg = re - rb;
    const bool row_ok = token_real(p.mask, i);
    float qv[VEC];
    load_vec<VEC>(p.q + i * p.q_sn + h * p.q_sh + gl * VEC, qv);
#pragma unroll
    for (int c = 0; c < VEC; ++c) qv[c] *= p.scale;
    const bool in_smem = SOFTMAX && deg <= kScoreBuf;
    float m = -INFINITY;
    for (std::int64_t base = rb; base < re; base += 32) {
      const int cnt = static_cast<int>(re - base < 32 ? re - base : 32);
      int code = 0;
      if (lane < cnt) {
        const int j = __ldg(p.col + base + lane);
        code = (row_ok && token_real(p.mask, j)) ? j : ~j;
      }
      __syncwarp();  // the previous batch's readers are done with the staging slots
      staged[warp][lane] = code;
      __syncwarp();
      float* out = in_smem ? &raw[SOFTMAX ? warp : 0][base - rb] : wh + base * p.wse;
      score_batch<T, VEC, LPE, STEP>(kh, static_cast<std::uint32_t>(p.k_sn), qv, staged[warp], cnt, out,
                                     in_smem ? 1 : p.wse, group, gl, m);
    }
    if constexpr (SOFTMAX) {
#pragma unroll
      for (int off = LPE; off < 32; off <<= 1) m = fmaxf(m, __shfl_xor_sync(kFull, m, off));
      __syncwarp();  // raw scores stored by the group leaders are read by every lane
      float sum = 0.0f;
      for (std::int64_t k = lane; k < deg; k += 32) {
        float& x = in_smem ? raw[warp][k] : wh[(rb + k) * p.wse];
        const float e = x == -INFINITY ? 0.0f : expf(x - m);
        x = e;
        sum += e;
      }
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(kFull, sum, off);
      const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
      for (std::int64_t k = lane; k < deg; k += 32) {
        const float e = in_smem ? raw[warp][k] : wh[(rb + k) * p.wse];
        wh[(rb + k) * p.wse] = e * inv;
      }
      __syncwarp();  // the next row reuses the buffer
    }
  }
}

template <class T, bool SOFTMAX>
__global__ void __launch_bounds__(kWarps * 32) score_generic(const ScoreArgs<T> p, const std::int64_t tiles) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const std::int64_t h = blockIdx.x / tiles, tile = blockIdx.x % tiles;
  float* wh = p.w + h * p.wsh;
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const std::int64_t i = tile * kTileRows + r * kWarps + warp;
    if (i >= p.n) break;
    const std::int64_t rb = __ldg(p.row_ptr + i), re = __ldg(p.row_ptr + i + 1);
    const bool row_ok = token_real(p.mask, i);
    const T* qr = p.q + i * p.q_sn + h * p.q_sh;
    SoftmaxState st{-INFINITY, 0.0f};
    for (std::int64_t e = rb; e < re; ++e) {
      const std::int64_t j = __ldg(p.col + e);
      const T* kr = p.k + j * p.k_sn + h * p.k_sh;
      float s = 0.0f;
      for (int f = lane; f < p.d; f += 32) s = fmaf(load1(qr + f), load1(kr + f), s);
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(kFull, s, off);
      const float sc = (row_ok && token_real(p.mask, j)) ? s * p.scale : -INFINITY;
      if (lane == 0) wh[e * p.wse] = sc;
      if constexpr (SOFTMAX) softmax_add(st, sc);
    }
    if constexpr (SOFTMAX) {
      __syncwarp();
      normalise(wh, p.wse, rb, re, lane, 32, st);
    }
  }
}

// Hub rows as a dense product, like hub_hop_partial. CTA (head h, batch of 32 hubs, source range
// cg) keeps the hubs' q (head h, scaled) in shared memory and walks the range in tiles of S
// sources: the tile's k rows go to shared memory transposed, the 256 threads compute the dense
// 32 x S block of scores (each 1 hub x 8 sources, float32 FMAs from shared memory), then each warp
// reads the scores of its 4 hubs' edges in the tile out of the block, stores them raw (-inf when
// masked) and keeps a per-lane online softmax state. The states are merged per hub at the end and
// written to partial[((hub * H + h) * n_cg + cg) * 2] (max, sum); hub_score_finish combines them.
// The warp's per-lane softmax states of its hubs merged per hub and stored at
// partial[((hub * H + h) * n_cg + cg) * 2] (max, sum), for hub_score_finish.
__device__ __forceinline__ void store_hub_states(const SoftmaxState (&st)[kHubsPerWarp], const HubGrid& hg,
                                                 std::int64_t hb, int warp, int lane, int heads,
                                                 std::int64_t h, std::int64_t cg) {
#pragma unroll
  for (int k = 0; k < kHubsPerWarp; ++k) {
    const std::int64_t hub = hb * kHubBatch + warp * kHubsPerWarp + k;
    SoftmaxState m = st[k];
#pragma unroll
    for (int off = 1; off < 32; off <<= 1)
      m = softmax_merge(m, SoftmaxState{__shfl_xor_sync(kFull, m.m, off), __shfl_xor_sync(kFull, m.s, off)});
    if (hub < hg.n_hubs && lane == 0) {
      float* out = hg.partial + ((hub * heads + h) * hg.n_cg + cg) * 2;
      out[0] = m.m;
      out[1] = m.s;
    }
  }
}

template <class T, int D, bool SOFTMAX>
__global__ void __launch_bounds__(kWarps * 32) hub_score_partial(const ScoreArgs<T> p, const HubGrid hg) {
  constexpr int S = 4096 / D;  // sources per tile: 64 (D = 64), 32 (D = 128); 16 KB of k
  constexpr int SPT = S / 8;   // sources per thread in the product
  static_assert(SPT % 4 == 0, "whole float4 reads of the transposed k tile");
  __shared__ float qs[kHubBatch][D + 1];
  __shared__ __align__(16) float kt[D][S + 4];
  __shared__ float sc[kHubBatch][S + 1];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int lh = tid / 8, s8 = tid % 8;  // the product: hub lh of the batch, sources s8*SPT ..
  const std::int64_t cg = blockIdx.x % hg.n_cg, rest = blockIdx.x / hg.n_cg;
  const std::int64_t hb = rest % hg.n_hb, h = rest / hg.n_hb;
  const std::int64_t s_begin = cg * hg.sg;
  const std::int64_t s_end = s_begin + hg.sg < p.n ? s_begin + hg.sg : p.n;
  float* wh = p.w + h * p.wsh;
  // q of the batch's hubs (zeros past the last hub).
  for (int t = tid; t < kHubBatch * D / 4; t += kWarps * 32) {
    const int hub_l = t / (D / 4), c4 = t % (D / 4);
    const std::int64_t hub = hb * kHubBatch + hub_l;
    float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (hub < hg.n_hubs)
      load_vec<4>(p.q + static_cast<std::int64_t>(__ldg(hg.hubs + hub)) * p.q_sn + h * p.q_sh + c4 * 4, v);
#pragma unroll
    for (int i = 0; i < 4; ++i) qs[hub_l][c4 * 4 + i] = v[i] * p.scale;
  }
  // The warp's 4 hubs: cursors into their rows, mask verdicts, softmax states.
  std::int64_t cur[kHubsPerWarp], end[kHubsPerWarp], hub_row[kHubsPerWarp];
  hub_cursors(p.row_ptr, p.col, hg, hb, warp, s_begin, cur, end, hub_row);
  bool row_ok[kHubsPerWarp];
  SoftmaxState st[kHubsPerWarp];
#pragma unroll
  for (int k = 0; k < kHubsPerWarp; ++k) {
    row_ok[k] = hub_row[k] >= 0 && token_real(p.mask, hub_row[k]);
    st[k] = SoftmaxState{-INFINITY, 0.0f};
  }
  for (std::int64_t s = s_begin; s < s_end; s += S) {
    const std::int64_t bound = s + S < s_end ? s + S : s_end;
    for (int t = tid; t < S * D / 4; t += kWarps * 32) {
      const int row = t / (D / 4), c4 = t % (D / 4);
      const std::int64_t src = s + row;
      float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      if (src < bound) load_vec<4>(p.k + src * p.k_sn + h * p.k_sh + c4 * 4, v);
#pragma unroll
      for (int i = 0; i < 4; ++i) kt[c4 * 4 + i][row] = v[i];
    }
    __syncthreads();
    {
      float acc[SPT];
#pragma unroll
      for (int m = 0; m < SPT; ++m) acc[m] = 0.0f;
#pragma unroll 4
      for (int d = 0; d < D; ++d) {
        const float q = qs[lh][d];
#pragma unroll
        for (int m4 = 0; m4 < SPT / 4; ++m4) {
          const float4 kv = *reinterpret_cast<const float4*>(&kt[d][s8 * SPT + m4 * 4]);
          acc[m4 * 4] = fmaf(q, kv.x, acc[m4 * 4]);
          acc[m4 * 4 + 1] = fmaf(q, kv.y, acc[m4 * 4 + 1]);
          acc[m4 * 4 + 2] = fmaf(q, kv.z, acc[m4 * 4 + 2]);
          acc[m4 * 4 + 3] = fmaf(q, kv.w, acc[m4 * 4 + 3]);
        }
      }
#pragma unroll
      for (int m = 0; m < SPT; ++m) sc[lh][s8 * SPT + m] = acc[m];
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kHubsPerWarp; ++k) {
      while (true) {
        const std::int64_t left = end[k] - cur[k];
        if (left <= 0) break;
        const int cnt = static_cast<int>(left < 32 ? left : 32);
        const int j = lane < cnt ? __ldg(p.col + cur[k] + lane) : INT_MAX;
        const bool in = j < bound;  // sources are sorted: the edges in the tile are a prefix
        const int c = __popc(__ballot_sync(kFull, in));
        if (in) {
          const float raw =
              (row_ok[k] && token_real(p.mask, j)) ? sc[warp * kHubsPerWarp + k][j - s] : -INFINITY;
          wh[(cur[k] + lane) * p.wse] = raw;
          if constexpr (SOFTMAX) softmax_add(st[k], raw);
        }
        cur[k] += c;
        if (c < 32) break;
      }
    }
    __syncthreads();  // kt and sc are rewritten by the next tile
  }
  if constexpr (SOFTMAX) store_hub_states(st, hg, hb, warp, lane, p.heads, h, cg);
}

// Combines the per-range states of each (hub, head) in range order, then normalises the hub's
// edges of that head. One CTA per (hub, head).
template <class T>
__global__ void hub_score_finish(const ScoreArgs<T> p, const HubGrid hg) {
  const std::int64_t hub = blockIdx.x / p.heads, h = blockIdx.x % p.heads;
  const float* part = hg.partial + (hub * p.heads + h) * hg.n_cg * 2;
  SoftmaxState st{-INFINITY, 0.0f};
  for (std::int64_t cg = 0; cg < hg.n_cg; ++cg)
    st = softmax_merge(st, SoftmaxState{part[2 * cg], part[2 * cg + 1]});
  const std::int64_t row = __ldg(hg.hubs + hub);
  const std::int64_t rb = __ldg(p.row_ptr + row), re = __ldg(p.row_ptr + row + 1);
  normalise(p.w + h * p.wsh, p.wse, rb, re, threadIdx.x, blockDim.x, st);
}

}  // namespace diffuser::cuda
