// One diffusion hop for bf16 rows with dense panels on tensor cores (docs/GPU.md section 10).
//
// pack_panels (once per set of weights, ops::prepare_hops): per 32-row tile and head, the weights
// of the tile's panel edges (engine/cuda/panel_plan.hpp: the sources most of its rows read, 160
// of ~224 per row in the authors' recipe: 96 block + 64 global) as a dense 32 x S bf16 block
// (zeros where a row lacks the edge), and the weights of its other edges as a list in row order,
// each row padded with zero weights to a multiple of 16.
//
// hop_panel: CTA = (tile, head), 8 warps. The S source rows, the weight block and the list are
// copied to shared memory (cp.async, no per-edge bookkeeping), the block product runs on tensor
// cores (wmma 16x16x16, fp32 accumulation) instead of a gather and 64 FMAs per edge, and the listed
// edges are gathered per row (16 in flight per warp) and added. Hub rows are left to the hub path;
// tiles without a panel gather every edge per row.
//
// The weights are rounded to bf16 for the product (as FlashAttention rounds P); a non-finite
// source row poisons every row of the tile that has it in its panel (0 * Inf), as on the CPU
// panels; the diffusion checks its inputs are finite first.
#pragma once

#include <mma.h>

#include <cstddef>

#include "hop_kernels.cuh"
#include "panel_plan.hpp"

namespace diffuser::cuda {

// The packed weights of one prepare_hops call: head h's block of tile t at
// panels + h * panel_stride + 32 * tile_off[t] (32 x S row-major), its list weights at
// rest_w + h * rest_stride + rest_base[t].
struct PackedWeights {
  const bf16* panels;
  const float* rest_w;
  std::int64_t panel_stride, rest_stride;
};

namespace panel_smem {
inline constexpr int kLdz = 64 + 8;  // bf16 per staged source row (D = 64; +8 against bank conflicts)
inline constexpr int kLdo = 64 + 4;  // floats per accumulator row
inline int ldp(int max_sources) {
  return max_sources + 8;
}
// [source rows | weight block] (the accumulators reuse them after the product) | gathered list
inline std::size_t dense_bytes(int max_sources) {
  const std::size_t zp = static_cast<std::size_t>(max_sources) * kLdz * 2 +
                         static_cast<std::size_t>(kTileRows) * ldp(max_sources) * 2;
  const std::size_t acc = static_cast<std::size_t>(kTileRows) * kLdo * 4;
  return zp > acc ? zp : acc;  // both multiples of 16 bytes
}
inline std::size_t bytes(int max_sources, int max_rest) {
  return dense_bytes(max_sources) + static_cast<std::size_t>(max_rest) * 8;  // + list sources, weights
}
}  // namespace panel_smem

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
  const auto s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem) : "memory");
}

// acc += the row's edges gathered from global memory in batches of 32 (as hop_warp): the path of
// tiles without a panel.
template <int VEC, int LPE, int STEP>
__device__ __forceinline__ void gather_row_edges(const HopArgs<bf16>& p, const bf16* xh, std::uint32_t x_sn,
                                                 const float* wh, std::int64_t rb, std::int64_t re,
                                                 int2* staged, int lane, float (&acc)[VEC]) {
  for (std::int64_t base = rb; base < re; base += 32) {
    const int cnt = static_cast<int>(re - base < 32 ? re - base : 32);
    int j = 0;
    float wv = 0.0f;
    if (lane < cnt) {
      j = __ldg(p.col + base + lane);
      wv = __ldg(wh + (base + lane) * p.wse);
    }
    __syncwarp();  // the previous batch's readers are done with the staging slots
    staged[lane] = make_int2(j, __float_as_int(wv));
    __syncwarp();
    gather_batch_smem<bf16, VEC, LPE, STEP>(xh, x_sn, staged, cnt, lane / LPE, acc);
  }
}

// Row i's edges [rb, re) when i is a row of the graph and not a hub row (the hub path writes those).
__device__ __forceinline__ bool ordinary_row(const HopArgs<bf16>& p, std::int64_t i, std::int64_t& rb,
                                             std::int64_t& re) {
  if (i >= p.n) return false;
  rb = __ldg(p.row_ptr + i);
  re = __ldg(p.row_ptr + i + 1);
  return re - rb <= p.hub_min;
}

// out[i] = a * sum + b * y[i] for one row: lanes 0..7 hold 8 features each.
__device__ __forceinline__ void store_row(const HopArgs<bf16>& p, std::int64_t i, std::int64_t h, int f,
                                          const float (&sum)[8]) {
  float o[8];
  if (p.b != 0.0f) {
    float yv[8];
    load_vec<8>(p.y + i * p.y_sn + h * p.y_sh + f, yv);
#pragma unroll
    for (int c = 0; c < 8; ++c) o[c] = p.a * sum[c] + p.b * yv[c];
  } else {
#pragma unroll
    for (int c = 0; c < 8; ++c) o[c] = p.a * sum[c];
  }
  store_vec<8>(p.out + i * p.o_sn + h * p.o_sh + f, o);
}

// acc += sum over the listed edges [0, cnt) (cnt a multiple of STEP) of w * x[source].
template <int VEC, int LPE, int STEP>
__device__ __forceinline__ void gather_list(const bf16* __restrict__ xh, std::uint32_t x_sn, const int* cols,
                                            const float* ws, int cnt, int group, float (&acc)[VEC]) {
  gather_staged<bf16, VEC, LPE, STEP>(xh, x_sn, cnt, group, acc, [cols, ws](int idx) {
    return make_int2(cols[idx], __float_as_int(ws[idx]));
  });
}

// CTA = tile (panel tiles only do work), looping over the heads: the block and the list are
// built in shared memory from the edge codes, then written out whole (zeros included).
__global__ void __launch_bounds__(kWarps * 32)
    pack_panels(const HopArgs<bf16> p, const PanelTiles pt, const PackedWeights pw) {
  constexpr int kUnroll = 4;  // edge batches of a row whose codes and weights load at once
  extern __shared__ __align__(16) unsigned char smem[];
  const std::int64_t tile = blockIdx.x;
  const int s0 = __ldg(pt.tile_off + tile), S = __ldg(pt.tile_off + tile + 1) - s0;
  if (S == 0) return;
  const int r0 = __ldg(pt.rest_base + tile), listed = __ldg(pt.rest_base + tile + 1) - r0;
  __nv_bfloat16* ps = reinterpret_cast<__nv_bfloat16*>(smem);  // [32][S]
  float* lw = reinterpret_cast<float*>(ps + kTileRows * S);    // [listed]
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  for (int h = 0; h < p.heads; ++h) {
    for (int t = tid; t < kTileRows * S / 8; t += kWarps * 32)
      reinterpret_cast<uint4*>(ps)[t] = make_uint4(0u, 0u, 0u, 0u);
    for (int t = tid; t < listed; t += kWarps * 32) lw[t] = 0.0f;
    __syncthreads();
    const float* wh = p.w + h * p.wsh;
    for (int k = 0; k < kRowsPerWarp; ++k) {
      const std::int64_t i = tile * kTileRows + k * kWarps + warp;
      std::int64_t rb = 0, re = 0;
      if (!ordinary_row(p, i, rb, re)) continue;
      for (std::int64_t base = rb; base < re; base += 32 * kUnroll) {
        unsigned cd[kUnroll];
        float wv[kUnroll];
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
          const std::int64_t e = base + u * 32 + lane;
          cd[u] = e < re ? __ldg(pt.code + e) : kPanelSkip;
          wv[u] = e < re ? __ldg(wh + e * p.wse) : 0.0f;
        }
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
          if (cd[u] == kPanelSkip) continue;
          if (cd[u] & kPanelRest)
            lw[cd[u] & 0x7fffu] = wv[u];
          else
            ps[(cd[u] >> 8) * S + (cd[u] & 0xffu)] = __float2bfloat16_rn(wv[u]);
        }
      }
    }
    __syncthreads();
    uint4* block = reinterpret_cast<uint4*>(const_cast<bf16*>(pw.panels) + h * pw.panel_stride +
                                            static_cast<std::int64_t>(s0) * kTileRows);
    for (int t = tid; t < kTileRows * S / 8; t += kWarps * 32)
      block[t] = reinterpret_cast<const uint4*>(ps)[t];
    float4* list = reinterpret_cast<float4*>(const_cast<float*>(pw.rest_w) + h * pw.rest_stride + r0);
    for (int t = tid; t < listed / 4; t += kWarps * 32) list[t] = reinterpret_cast<const float4*>(lw)[t];
    __syncthreads();
  }
}

template <int STEP>
__global__ void __launch_bounds__(kWarps * 32)
    hop_panel(const HopArgs<bf16> p, const PanelTiles pt, const PackedWeights pw, const int ldp,
              const int dense_bytes, const std::int64_t tiles) {
  using namespace nvcuda;
  using panel_smem::kLdo;
  using panel_smem::kLdz;
  constexpr int LPE = 8, VEC = 8;  // one 16-byte load of 8 features per lane, 4 edges per load
  extern __shared__ __align__(128) unsigned char smem[];
  __shared__ int2 staged[kWarps][32];
  const int max_s = ldp - 8;
  __nv_bfloat16* zs = reinterpret_cast<__nv_bfloat16*>(smem);  // [max_s][kLdz] source rows
  __nv_bfloat16* ps = zs + max_s * kLdz;                       // [32][ldp] panel weights
  float* os = reinterpret_cast<float*>(smem);                  // [32][kLdo], after the product
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const std::int64_t h = blockIdx.x / tiles, tile = blockIdx.x % tiles;
  const int s0 = __ldg(pt.tile_off + tile), S = __ldg(pt.tile_off + tile + 1) - s0;
  const auto x_sn = static_cast<std::uint32_t>(p.x_sn);
  const bf16* xh = p.x + h * p.x_sh;
  const int group = lane / LPE, fd = (lane % LPE) * VEC;

  if (S == 0) {  // no panel: every edge gathered, row by row
    const float* wh = p.w + h * p.wsh;
    for (int k = 0; k < kRowsPerWarp; ++k) {
      const std::int64_t i = tile * kTileRows + k * kWarps + warp;
      std::int64_t rb = 0, re = 0;
      if (!ordinary_row(p, i, rb, re)) continue;
      float acc[VEC];
#pragma unroll
      for (int c = 0; c < VEC; ++c) acc[c] = 0.0f;
      gather_row_edges<VEC, LPE, STEP>(p, xh + fd, x_sn, wh, rb, re, staged[warp], lane, acc);
#pragma unroll
      for (int off = LPE; off < 32; off <<= 1)
#pragma unroll
        for (int c = 0; c < VEC; ++c) acc[c] += __shfl_xor_sync(kFull, acc[c], off);
      if (group == 0) store_row(p, i, h, fd, acc);
    }
    return;
  }

  // 1. Source rows, weight block and list to shared memory.
  const int r0 = __ldg(pt.rest_base + tile), listed = __ldg(pt.rest_base + tile + 1) - r0;
  int* lc = reinterpret_cast<int*>(smem + dense_bytes);
  float* lw = reinterpret_cast<float*>(lc + listed);
  for (int t = tid; t < S * 8; t += kWarps * 32) {
    const int s = t >> 3, c = t & 7;
    cp_async16(zs + s * kLdz + c * 8, xh + row_offset(__ldg(pt.src + s0 + s), x_sn) + c * 8);
  }
  const bf16* block = pw.panels + h * pw.panel_stride + static_cast<std::int64_t>(s0) * kTileRows;
  for (int t = tid; t < kTileRows * (S / 8); t += kWarps * 32) {
    const int r = t / (S / 8), c = t % (S / 8);
    cp_async16(ps + r * ldp + c * 8, block + r * S + c * 8);
  }
  const float* list_w = pw.rest_w + h * pw.rest_stride + r0;
  for (int t = tid; t < listed / 4; t += kWarps * 32) {
    cp_async16(lc + 4 * t, pt.rest_col + r0 + 4 * t);
    cp_async16(lw + 4 * t, list_w + 4 * t);
  }
  asm volatile("cp.async.commit_group;\ncp.async.wait_group 0;\n" ::: "memory");
  __syncthreads();

  // 2. Weights (32 x S) x source rows (S x 64) on tensor cores: warp w owns output block
  //    (w / 4, w % 4) of 16 x 16; the result goes to the accumulators (over the inputs, hence the
  //    barrier between the last read and the store).
  {
    const int rb = (warp >> 2) * 16, cb = (warp & 3) * 16;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> c;
    wmma::fill_fragment(c, 0.0f);
    for (int kk = 0; kk < S; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> b;
      wmma::load_matrix_sync(a, ps + rb * ldp + kk, ldp);
      wmma::load_matrix_sync(b, zs + kk * kLdz + cb, kLdz);
      wmma::mma_sync(c, a, b, c);
    }
    __syncthreads();
    wmma::store_matrix_sync(os + rb * kLdo + cb, c, kLdo, wmma::mem_row_major);
  }
  __syncthreads();

  // 3. Per row: the listed edges gathered, added to the block product's sum, stored.
  const std::int32_t* rest_off = pt.rest_off + tile * (kTileRows + 1);
  for (int k = 0; k < kRowsPerWarp; ++k) {
    const int r = k * kWarps + warp;
    const std::int64_t i = tile * kTileRows + r;
    std::int64_t rb = 0, re = 0;
    if (!ordinary_row(p, i, rb, re)) continue;
    const int lo = __ldg(rest_off + r), cnt = __ldg(rest_off + r + 1) - lo;
    float acc[VEC];
#pragma unroll
    for (int c = 0; c < VEC; ++c) acc[c] = 0.0f;
    gather_list<VEC, LPE, 16>(xh + fd, x_sn, lc + lo, lw + lo, cnt, group, acc);
#pragma unroll
    for (int off = LPE; off < 32; off <<= 1)
#pragma unroll
      for (int c = 0; c < VEC; ++c) acc[c] += __shfl_xor_sync(kFull, acc[c], off);
    if (group == 0) {
      const float4 lo4 = *reinterpret_cast<const float4*>(os + r * kLdo + fd);
      const float4 hi4 = *reinterpret_cast<const float4*>(os + r * kLdo + fd + 4);
      const float sum[8] = {lo4.x + acc[0], lo4.y + acc[1], lo4.z + acc[2], lo4.w + acc[3],
                            hi4.x + acc[4], hi4.y + acc[5], hi4.z + acc[6], hi4.w + acc[7]};
      store_row(p, i, h, fd, sum);
    }
  }
}

// Hub rows on tensor cores (bf16 rows, D = 64): hub_hop_partial's split and partial sums (CTA =
// head x batch of 32 hubs x source range, combined by hub_hop_combine in range order), with the
// weights of each 64-source tile as a 32 x 64 bf16 block and the product on tensor cores. A
// hub's edges in a tile are at most 64 (distinct sources), so each warp loads its 4 hubs' next 64
// edges at once per tile: one memory latency per tile instead of one per 32 edges.
__global__ void __launch_bounds__(kWarps * 32) hub_hop_panel(const HopArgs<bf16> p, const HubGrid hg) {
  using namespace nvcuda;
  constexpr int S = kHubTile, kLd = 64 + 8;
  static_assert(S == 64 && kHubBatch == 32 && kHubsPerWarp == 4, "one 16 x 16 output block per warp");
  __shared__ __align__(128) __nv_bfloat16 wt[kHubBatch][kLd];
  __shared__ __align__(128) __nv_bfloat16 xs[S][kLd];  // the accumulators after the last tile
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const std::int64_t cg = blockIdx.x % hg.n_cg, rest = blockIdx.x / hg.n_cg;
  const std::int64_t hb = rest % hg.n_hb, h = rest / hg.n_hb;
  const std::int64_t s_begin = cg * hg.sg;
  const std::int64_t s_end = s_begin + hg.sg < p.n ? s_begin + hg.sg : p.n;
  const float* wh = p.w + h * p.wsh;
  const bf16* xh = p.x + h * p.x_sh;
  const auto x_sn = static_cast<std::uint32_t>(p.x_sn);
  std::int64_t cur[kHubsPerWarp], end[kHubsPerWarp], hub_row[kHubsPerWarp];
  hub_cursors(p.row_ptr, p.col, hg, hb, warp, s_begin, cur, end, hub_row);
  const int rb = (warp >> 2) * 16, cb = (warp & 3) * 16;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  for (std::int64_t s = s_begin; s < s_end; s += S) {
    const std::int64_t bound = s + S < s_end ? s + S : s_end;
    int jj[kHubsPerWarp][2];
    float ww[kHubsPerWarp][2];
    hub_tile_cols(p.col, cur, end, lane, jj);
#pragma unroll
    for (int k = 0; k < kHubsPerWarp; ++k)
#pragma unroll
      for (int u = 0; u < 2; ++u) {
        const std::int64_t e = cur[k] + u * 32 + lane;
        ww[k][u] = e < end[k] ? __ldg(wh + e * p.wse) : 0.0f;
      }
    for (int t = tid; t < kHubBatch * kLd / 8; t += kWarps * 32)
      reinterpret_cast<uint4*>(&wt[0][0])[t] = make_uint4(0u, 0u, 0u, 0u);
    load_tile64<kLd>(xh, x_sn, s, bound, xs);
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kHubsPerWarp; ++k) {
      int taken = 0;
#pragma unroll
      for (int u = 0; u < 2; ++u) {
        const bool in = jj[k][u] < bound;  // sources are sorted: the edges in the tile are a prefix
        if (in) wt[warp * kHubsPerWarp + k][jj[k][u] - s] = __float2bfloat16_rn(ww[k][u]);
        taken += __popc(__ballot_sync(kFull, in));
      }
      cur[k] += taken;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < S; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> b;
      wmma::load_matrix_sync(a, &wt[rb][kk], kLd);
      wmma::load_matrix_sync(b, &xs[kk][cb], kLd);
      wmma::mma_sync(acc, a, b, acc);
    }
    __syncthreads();
  }
  constexpr int kLdo = panel_smem::kLdo;
  static_assert(sizeof(xs) >= sizeof(float) * kHubBatch * kLdo, "accumulators fit over the x tile");
  float* os = reinterpret_cast<float*>(&xs[0][0]);
  wmma::store_matrix_sync(os + rb * kLdo + cb, acc, kLdo, wmma::mem_row_major);
  __syncthreads();
  for (int t = tid; t < kHubBatch * 64; t += kWarps * 32) {
    const int r = t >> 6, f = t & 63;
    const std::int64_t hub = hb * kHubBatch + r;
    if (hub < hg.n_hubs) hg.partial[((hub * p.heads + h) * hg.n_cg + cg) * 64 + f] = os[r * kLdo + f];
  }
}

}  // namespace diffuser::cuda
