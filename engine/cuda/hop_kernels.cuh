// Kernels of one diffusion hop, out = a * (W x) + b * y (docs/GPU.md has the measurements behind
// the choices):
//   hop_warp     one warp per (destination row, head group of HPW heads), LPE lanes per edge so
//                32 / LPE edges per load instruction, STEP edges loaded per step. The grid is
//                head-major: every row tile of head group 0, then of group 1, ... so the x slice
//                of the heads in flight stays in L2 while the random gathers hit it, and the 8
//                warps of a CTA work on 8 consecutive rows at once, sharing their block and
//                global neighbours in L1. Hub rows (degree > hub_min) are left to the hub path.
//   hop_row      one warp per row, all heads (the node-major alternative, for comparison).
//   hop_generic  any head size or alignment: one warp per (row, head), scalar loads.
//   hub_hop_*    rows of very high in-degree (the recipe's 64 global rows, degree N) as a dense
//                product over (head, batch of 32 hubs, source range) CTAs with x tiles in shared
//                memory; per-range partial sums added in a fixed order by hub_hop_combine
//                (deterministic, no atomics).
#pragma once

#include <climits>
#include <cstdint>

#include "vec.cuh"

namespace diffuser::cuda {

inline constexpr int kWarps = 8;  // warps per CTA
inline constexpr int kRowsPerWarp = 4;
inline constexpr int kTileRows = kWarps * kRowsPerWarp;
inline constexpr int kHubsPerWarp = 4;
inline constexpr int kHubBatch = kWarps * kHubsPerWarp;

template <class T>
struct HopArgs {
  const std::int64_t* row_ptr;
  const std::int32_t* col;
  std::int64_t n;
  const float* w;  // element (e, h) at w[e * wse + h * wsh]
  std::int64_t wse, wsh;
  float a, b;
  const T* x;
  std::int64_t x_sn, x_sh;
  const T* y;  // unused when b == 0
  std::int64_t y_sn, y_sh;
  T* out;
  std::int64_t o_sn, o_sh;
  int heads, d;
  std::int64_t hub_min;  // rows of higher degree are skipped (the hub path writes them)
};

// How the hub path splits its work: source ranges of `sg` sources, `n_cg` of them.
struct HubGrid {
  const std::int32_t* hubs;
  std::int64_t n_hubs, n_hb, n_cg, sg;
  int chunk;
  float* partial;
};

__device__ __forceinline__ std::int64_t lower_bound_col(const std::int32_t* __restrict__ col, std::int64_t lo,
                                                        std::int64_t hi, std::int64_t value) {
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    if (__ldg(col + mid) < value)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

// Adds the `cnt` (<= 32) edges of one batch to acc. Lane idx holds the batch's edge idx: its source
// in cj and its weights (one per head of the warp) in cw. Lanes of group g take edges g, g + EPS,
// ...; STEP edges are loaded per step before any is used (STEP / EPS loads in flight per lane).
template <class T, int VEC, int LPE, int STEP, int HPW>
__device__ __forceinline__ void gather_batch(const T* __restrict__ xh, std::int64_t x_sn, int cj,
                                             const float (&cw)[HPW], int hh, int cnt, int group,
                                             float (&acc)[VEC]) {
  constexpr int EPS = 32 / LPE;
  constexpr int U = STEP / EPS;
  static_assert(U >= 1 && STEP % EPS == 0 && 32 % STEP == 0, "STEP: a multiple of the edges per load");
  for (int t = 0; t < cnt; t += STEP) {
    float v[U][VEC];
    float wv[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int idx = t + u * EPS + group;
      const int j = __shfl_sync(kFull, cj, idx);
      float wt = 0.0f;
#pragma unroll
      for (int k = 0; k < HPW; ++k) {
        const float wk = __shfl_sync(kFull, cw[k], idx);
        if (k == hh) wt = wk;
      }
      if (idx < cnt) {
        wv[u] = wt;
        load_vec<VEC>(xh + static_cast<std::int64_t>(j) * x_sn, v[u]);
      } else {
        wv[u] = 0.0f;
#pragma unroll
        for (int c = 0; c < VEC; ++c) v[u][c] = 0.0f;
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u)
#pragma unroll
      for (int c = 0; c < VEC; ++c) acc[c] = fmaf(wv[u], v[u][c], acc[c]);
  }
}

// Element offset of row j: one 32 x 32 -> 64-bit multiply (strides are checked to fit 32 bits).
__device__ __forceinline__ std::uint64_t row_offset(int j, std::uint32_t stride) {
  return static_cast<std::uint64_t>(static_cast<std::uint32_t>(j)) * stride;
}

// The warp's kHubsPerWarp hubs of hub batch hb: each one's edges from source s_begin on,
// [cur, end), and its row (empty range and row -1 past the last hub).
__device__ __forceinline__ void hub_cursors(const std::int64_t* __restrict__ row_ptr,
                                            const std::int32_t* __restrict__ col, const HubGrid& hg,
                                            std::int64_t hb, int warp, std::int64_t s_begin,
                                            std::int64_t (&cur)[kHubsPerWarp],
                                            std::int64_t (&end)[kHubsPerWarp],
                                            std::int64_t (&row)[kHubsPerWarp]) {
#pragma unroll
  for (int k = 0; k < kHubsPerWarp; ++k) {
    const std::int64_t hub = hb * kHubBatch + warp * kHubsPerWarp + k;
    cur[k] = end[k] = 0;
    row[k] = -1;
    if (hub < hg.n_hubs) {
      row[k] = __ldg(hg.hubs + hub);
      const std::int64_t rb = __ldg(row_ptr + row[k]), re = __ldg(row_ptr + row[k] + 1);
      cur[k] = lower_bound_col(col, rb, re, s_begin);
      end[k] = re;
    }
  }
}

// Rows s .. s + 63 of one head's bf16 slice (base = head's first row, sn = row stride) into a
// shared 64 x LD tile, zeros from row `bound` on. All threads of the CTA take part.
template <int LD>
__device__ __forceinline__ void load_tile64(const bf16* __restrict__ base, std::uint32_t sn, std::int64_t s,
                                            std::int64_t bound, __nv_bfloat16 (*tile)[LD]) {
  for (int t = threadIdx.x; t < 64 * 8; t += kWarps * 32) {
    const int row = t >> 3, c = t & 7;
    uint4 v = make_uint4(0u, 0u, 0u, 0u);
    if (s + row < bound)
      v = __ldg(reinterpret_cast<const uint4*>(base + row_offset(static_cast<int>(s + row), sn)) + c);
    *reinterpret_cast<uint4*>(&tile[row][c * 8]) = v;
  }
}

// The same for one head per warp with the batch's (source, weight) pairs staged in shared memory:
// one broadcast LDS.64 per edge instead of two shuffles. Slots past the batch's end hold (0, 0):
// their loads read row 0 with weight 0, so the loop needs no predicates and no zero fills.
// The loop itself is gather_staged: entry idx's (source, weight) comes from edge(idx), for idx in
// [0, cnt) rounded up to STEP (those entries must exist and carry weight 0).
template <class T, int VEC, int LPE, int STEP, class Edge>
__device__ __forceinline__ void gather_staged(const T* __restrict__ xh, std::uint32_t x_sn, int cnt,
                                              int group, float (&acc)[VEC], Edge edge) {
  constexpr int EPS = 32 / LPE;
  constexpr int U = STEP / EPS;
  static_assert(U >= 1 && STEP % EPS == 0, "STEP: a multiple of the edges per load");
  for (int t = 0; t < cnt; t += STEP) {
    float v[U][VEC];
    float wv[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int2 jw = edge(t + u * EPS + group);
      wv[u] = __int_as_float(jw.y);
      load_vec<VEC>(xh + row_offset(jw.x, x_sn), v[u]);
    }
#pragma unroll
    for (int u = 0; u < U; ++u)
#pragma unroll
      for (int c = 0; c < VEC; ++c) acc[c] = fmaf(wv[u], v[u][c], acc[c]);
  }
}

template <class T, int VEC, int LPE, int STEP>
__device__ __forceinline__ void gather_batch_smem(const T* __restrict__ xh, std::uint32_t x_sn,
                                                  const int2* jw, int cnt, int group, float (&acc)[VEC]) {
  static_assert(32 % STEP == 0, "a batch of 32 edges in whole steps");
  gather_staged<T, VEC, LPE, STEP>(xh, x_sn, cnt, group, acc, [jw](int idx) { return jw[idx]; });
}

// The first 64 edges of each of the warp's hubs from cur on (2 per lane; INT_MAX past end): a
// hub has at most 64 edges in a 64-source tile (distinct sources), so one load per tile.
__device__ __forceinline__ void hub_tile_cols(const std::int32_t* __restrict__ col,
                                              const std::int64_t (&cur)[kHubsPerWarp],
                                              const std::int64_t (&end)[kHubsPerWarp], int lane,
                                              int (&jj)[kHubsPerWarp][2]) {
#pragma unroll
  for (int k = 0; k < kHubsPerWarp; ++k)
#pragma unroll
    for (int u = 0; u < 2; ++u) {
      const std::int64_t e = cur[k] + u * 32 + lane;
      jj[k][u] = e < end[k] ? __ldg(col + e) : INT_MAX;
    }
}

// One warp per (row, head group). Per batch of 32 edges the lanes load the sources and weights
// (coalesced), then the neighbour rows are gathered STEP edges at a time. At most 64 registers
// (4 CTAs, half the warps of an SM, resident): measured faster than deeper prefetching with fewer
// warps (docs/GPU.md).
template <class T, int D, int HPW, int LPE, int STEP>
__global__ void __launch_bounds__(kWarps * 32, 4) hop_warp(const HopArgs<T> p, const std::int64_t tiles) {
  constexpr int VEC = D * HPW / LPE;
  static_assert(VEC >= 1 && D % VEC == 0, "a lane's elements lie in one head");
  __shared__ int2 staged[kWarps][32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int group = lane / LPE;
  const int f0 = (lane % LPE) * VEC;
  const int hh = f0 / D, fd = f0 % D;
  const std::int64_t hg = blockIdx.x / tiles, tile = blockIdx.x % tiles;
  const int head0 = static_cast<int>(hg) * HPW;
  const int head = head0 + hh;
  const bool head_ok = head < p.heads;
  const int head_c = head_ok ? head : p.heads - 1;
  const T* xh = p.x + static_cast<std::int64_t>(head_c) * p.x_sh + fd;
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const std::int64_t i = tile * kTileRows + r * kWarps + warp;
    if (i >= p.n) break;
    const std::int64_t rb = __ldg(p.row_ptr + i), re = __ldg(p.row_ptr + i + 1);
    if (re - rb > p.hub_min) continue;
    float acc[VEC];
#pragma unroll
    for (int c = 0; c < VEC; ++c) acc[c] = 0.0f;
    for (std::int64_t base = rb; base < re; base += 32) {
      const int cnt = static_cast<int>(re - base < 32 ? re - base : 32);
      int my_j = 0;
      float my_w[HPW];
#pragma unroll
      for (int k = 0; k < HPW; ++k) my_w[k] = 0.0f;
      if (lane < cnt) {
        const std::int64_t e = base + lane;
        my_j = __ldg(p.col + e);
#pragma unroll
        for (int k = 0; k < HPW; ++k)
          if (head0 + k < p.heads) my_w[k] = __ldg(p.w + (head0 + k) * p.wsh + e * p.wse);
      }
      if constexpr (HPW == 1) {
        __syncwarp();  // the previous batch's readers are done with the staging slots
        staged[warp][lane] = make_int2(my_j, __float_as_int(my_w[0]));
        __syncwarp();
        gather_batch_smem<T, VEC, LPE, STEP>(xh, static_cast<std::uint32_t>(p.x_sn), staged[warp], cnt, group,
                                             acc);
      } else {
        gather_batch<T, VEC, LPE, STEP, HPW>(xh, p.x_sn, my_j, my_w, hh, cnt, group, acc);
      }
    }
#pragma unroll
    for (int off = LPE; off < 32; off <<= 1)
#pragma unroll
      for (int c = 0; c < VEC; ++c) acc[c] += __shfl_xor_sync(kFull, acc[c], off);
    if (group == 0 && head_ok) {
      float o[VEC];
      if (p.b != 0.0f) {
        float yv[VEC];
        load_vec<VEC>(p.y + i * p.y_sn + static_cast<std::int64_t>(head) * p.y_sh + fd, yv);
#pragma unroll
        for (int c = 0; c < VEC; ++c) o[c] = p.a * acc[c] + p.b * yv[c];
      } else {
#pragma unroll
        for (int c = 0; c < VEC; ++c) o[c] = p.a * acc[c];
      }
      store_vec<VEC>(p.out + i * p.o_sn + static_cast<std::int64_t>(head) * p.o_sh + fd, o);
    }
  }
}

// One warp per row, all heads: lane l covers elements [(c*32 + l)*VEC, +VEC) of the row's H*D for
// chunks c < ceil(H*D / (32*VEC)) <= CMAX. Needs d % VEC == 0.
template <class T, int VEC, int CMAX>
__global__ void __launch_bounds__(kWarps * 32) hop_row(const HopArgs<T> p) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kWarps + warp;
  if (i >= p.n) return;
  const std::int64_t rb = __ldg(p.row_ptr + i), re = __ldg(p.row_ptr + i + 1);
  if (re - rb > p.hub_min) return;
  const int hd = p.heads * p.d;
  int head[CMAX], feat[CMAX];
  bool live[CMAX];
  float acc[CMAX][VEC];
#pragma unroll
  for (int c = 0; c < CMAX; ++c) {
    const int f = (c * 32 + lane) * VEC;
    live[c] = f < hd;
    head[c] = live[c] ? f / p.d : 0;
    feat[c] = live[c] ? f % p.d : 0;
#pragma unroll
    for (int v = 0; v < VEC; ++v) acc[c][v] = 0.0f;
  }
  for (std::int64_t e = rb; e < re; e += 2) {
    const bool two = e + 1 < re;
    const std::int64_t j0 = __ldg(p.col + e), j1 = two ? __ldg(p.col + e + 1) : j0;
#pragma unroll
    for (int c = 0; c < CMAX; ++c) {
      if (!live[c]) continue;
      const float w0 = __ldg(p.w + e * p.wse + head[c] * p.wsh);
      const float w1 = two ? __ldg(p.w + (e + 1) * p.wse + head[c] * p.wsh) : 0.0f;
      float v0[VEC], v1[VEC];
      load_vec<VEC>(p.x + j0 * p.x_sn + head[c] * p.x_sh + feat[c], v0);
      load_vec<VEC>(p.x + j1 * p.x_sn + head[c] * p.x_sh + feat[c], v1);
#pragma unroll
      for (int v = 0; v < VEC; ++v) acc[c][v] = fmaf(w0, v0[v], fmaf(w1, v1[v], acc[c][v]));
    }
  }
#pragma unroll
  for (int c = 0; c < CMAX; ++c) {
    if (!live[c]) continue;
    float o[VEC];
    if (p.b != 0.0f) {
      float yv[VEC];
      load_vec<VEC>(p.y + i * p.y_sn + head[c] * p.y_sh + feat[c], yv);
#pragma unroll
      for (int v = 0; v < VEC; ++v) o[v] = p.a * acc[c][v] + p.b * yv[v];
    } else {
#pragma unroll
      for (int v = 0; v < VEC; ++v) o[v] = p.a * acc[c][v];
    }
    store_vec<VEC>(p.out + i * p.o_sn + head[c] * p.o_sh + feat[c], o);
  }
}

// Any head size, any alignment; every row including hubs. Head-major grid of row tiles.
template <class T>
__global__ void __launch_bounds__(kWarps * 32) hop_generic(const HopArgs<T> p, const std::int64_t tiles) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const std::int64_t h = blockIdx.x / tiles, tile = blockIdx.x % tiles;
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const std::int64_t i = tile * kTileRows + r * kWarps + warp;
    if (i >= p.n) break;
    const std::int64_t rb = __ldg(p.row_ptr + i), re = __ldg(p.row_ptr + i + 1);
    for (int f0 = 0; f0 < p.d; f0 += 128) {
      float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      for (std::int64_t e = rb; e < re; ++e) {
        const std::int64_t j = __ldg(p.col + e);
        const float w = __ldg(p.w + e * p.wse + h * p.wsh);
        const T* xr = p.x + j * p.x_sn + h * p.x_sh;
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          const int f = f0 + lane + 32 * c;
          if (f < p.d) acc[c] = fmaf(w, load1(xr + f), acc[c]);
        }
      }
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int f = f0 + lane + 32 * c;
        if (f >= p.d) continue;
        float o = p.a * acc[c];
        if (p.b != 0.0f) o += p.b * load1(p.y + i * p.y_sn + h * p.y_sh + f);
        store1(p.out + i * p.o_sn + h * p.o_sh + f, o);
      }
    }
  }
}

// Hub rows as a dense product. CTA (head h, batch of 32 hubs, source range cg) walks its range
// in tiles of kHubTile sources: the tile's x rows (head h) go to shared memory (coalesced, once
// per CTA), each warp scatters the weights of its 4 hubs' edges in the tile into a dense 32 x
// kHubTile block (zeros elsewhere), and the 256 threads multiply the two (each 2 hubs x D/16
// features, float32 FMAs from shared memory). Partial sums go to
// partial[((hub * H + h) * n_cg + cg) * D + f]; hub_hop_combine adds them in range order.
inline constexpr int kHubTile = 64;

template <class T, int D>
__global__ void __launch_bounds__(kWarps * 32) hub_hop_partial(const HopArgs<T> p, const HubGrid hg) {
  constexpr int S = kHubTile;
  constexpr int FPT = D / 16;  // features per thread
  static_assert(FPT % 4 == 0, "D a multiple of 64");
  __shared__ float wt[kHubBatch][S + 1];  // +1: rows 2hp and 2hp + 2 in different banks
  __shared__ __align__(16) float xs[S][D];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int hp = tid / 16, fq = tid % 16;  // hubs 2hp, 2hp + 1 of the batch; features fq*FPT..
  const std::int64_t cg = blockIdx.x % hg.n_cg, rest = blockIdx.x / hg.n_cg;
  const std::int64_t hb = rest % hg.n_hb, h = rest / hg.n_hb;
  const std::int64_t s_begin = cg * hg.sg;
  const std::int64_t s_end = s_begin + hg.sg < p.n ? s_begin + hg.sg : p.n;
  const float* wh = p.w + h * p.wsh;
  // The warp scatters hubs 4*warp .. 4*warp + 3 of the batch.
  std::int64_t cur[kHubsPerWarp], end[kHubsPerWarp], hub_row[kHubsPerWarp];
  hub_cursors(p.row_ptr, p.col, hg, hb, warp, s_begin, cur, end, hub_row);
  float acc[2][FPT];
#pragma unroll
  for (int a = 0; a < 2; ++a)
#pragma unroll
    for (int c = 0; c < FPT; ++c) acc[a][c] = 0.0f;
  for (std::int64_t s = s_begin; s < s_end; s += S) {
    const std::int64_t bound = s + S < s_end ? s + S : s_end;
    for (int t = tid; t < kHubBatch * (S + 1); t += kWarps * 32) (&wt[0][0])[t] = 0.0f;
    for (int t = tid; t < S * D / 4; t += kWarps * 32) {
      const int row = t / (D / 4), c4 = t % (D / 4);
      const std::int64_t src = s + row;
      float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      if (src < bound) load_vec<4>(p.x + src * p.x_sn + h * p.x_sh + c4 * 4, v);
      *reinterpret_cast<float4*>(&xs[row][c4 * 4]) = make_float4(v[0], v[1], v[2], v[3]);
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
        if (in) wt[warp * kHubsPerWarp + k][j - s] = __ldg(wh + (cur[k] + lane) * p.wse);
        cur[k] += c;
        if (c < 32) break;
      }
    }
    __syncthreads();
#pragma unroll 8
    for (int kk = 0; kk < S; ++kk) {
      const float w0 = wt[2 * hp][kk], w1 = wt[2 * hp + 1][kk];
#pragma unroll
      for (int c4 = 0; c4 < FPT / 4; ++c4) {
        const float4 x = *reinterpret_cast<const float4*>(&xs[kk][fq * FPT + c4 * 4]);
        acc[0][c4 * 4] = fmaf(w0, x.x, acc[0][c4 * 4]);
        acc[0][c4 * 4 + 1] = fmaf(w0, x.y, acc[0][c4 * 4 + 1]);
        acc[0][c4 * 4 + 2] = fmaf(w0, x.z, acc[0][c4 * 4 + 2]);
        acc[0][c4 * 4 + 3] = fmaf(w0, x.w, acc[0][c4 * 4 + 3]);
        acc[1][c4 * 4] = fmaf(w1, x.x, acc[1][c4 * 4]);
        acc[1][c4 * 4 + 1] = fmaf(w1, x.y, acc[1][c4 * 4 + 1]);
        acc[1][c4 * 4 + 2] = fmaf(w1, x.z, acc[1][c4 * 4 + 2]);
        acc[1][c4 * 4 + 3] = fmaf(w1, x.w, acc[1][c4 * 4 + 3]);
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int a = 0; a < 2; ++a) {
    const std::int64_t hub = hb * kHubBatch + 2 * hp + a;
    if (hub < hg.n_hubs)
      store_vec<FPT>(hg.partial + ((hub * p.heads + h) * hg.n_cg + cg) * D + fq * FPT, acc[a]);
  }
}

// out[hub row, h, :] = a * (sum of the partials in range order) + b * y. One CTA per (hub, head).
template <class T>
__global__ void hub_hop_combine(const HopArgs<T> p, const HubGrid hg) {
  const std::int64_t hub = blockIdx.x / p.heads, h = blockIdx.x % p.heads;
  const std::int64_t i = __ldg(hg.hubs + hub);
  const float* part = hg.partial + (hub * p.heads + h) * hg.n_cg * p.d;
  for (int f = threadIdx.x; f < p.d; f += blockDim.x) {
    float sum = 0.0f;
    for (std::int64_t cg = 0; cg < hg.n_cg; ++cg) sum += part[cg * p.d + f];
    float o = p.a * sum;
    if (p.b != 0.0f) o += p.b * load1(p.y + i * p.y_sn + h * p.y_sh + f);
    store1(p.out + i * p.o_sn + h * p.o_sh + f, o);
  }
}

}  // namespace diffuser::cuda
