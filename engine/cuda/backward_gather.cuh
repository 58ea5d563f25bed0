// The fast gather of the CUDA gradient kernels (docs/GPU.md section 9), shared by hop_backward
// (with the per-edge dot dw += a <src_i, x_j>), scatter_axpby (without) and the score backward
// (with the softmax backward of the row fused into the edge loads):
//   rows   one warp per (row, head), 16 lanes per edge (VEC = D / 16 floats each, one vector load),
//          2 edges per load instruction, 8 edges (4 loads per lane) in flight per step. Per batch
//          of 32 edges the lanes load (column, weight) coalesced and stage them in shared memory;
//          the 4 per-edge dots of a step are reduced over the 16-lane group together (5 shuffles
//          for 4 dots, not 4 x 5) and land in the lane of their edge, which writes dw once per
//          batch (one writer per edge). Grid head-group-major: all row tiles of heads 0..G-1, then
//          G..2G-1, ...; the G warps of a row's heads run in one CTA at the same time, so the
//          edge-major (E, H) values they read with stride H share their sectors (G = 4 for H = 12:
//          16 bytes of one 48-byte edge row, one sector).
//   hub    rows of degree above the hub threshold (plan.cu) are skipped by `rows`: their edges are
//          split into chunks of kHubChunk, one warp per (hub, head, chunk), per-chunk partial sums
//          of `out` in scratch, added in chunk order by gather_hub_combine (deterministic; dw of
//          an edge is still written by the one lane that computed its dot).
#pragma once

#include <cstdint>
#include <cstdlib>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/context.hpp>

#include "backward_common.cuh"
#include "plan.cuh"
#include "vec.cuh"

namespace diffuser::cuda::grad {

inline constexpr int kGTileRows = 16;  // rows per CTA tile (per head)
inline constexpr int kHubChunk = 512;  // edges of a hub row per warp and piece
inline constexpr std::int64_t kMaxHubChunks = 128;

struct GatherArgs {
  const std::int64_t* row_ptr = nullptr;
  const std::int32_t* col = nullptr;
  const std::int64_t* perm = nullptr;  // edge values at perm[t] (nullptr: at t)
  std::int64_t n = 0;
  int H = 0, D = 0;
  const float* w = nullptr;    // edge weights (E, H); SOFTMAX: the softmax output
  float* grad = nullptr;       // SOFTMAX: dL/dw in, dS out (in place)
  const float* src = nullptr;  // gathered rows src[col[t], h, :]
  std::int64_t s_sn = 0, s_sh = 0;
  const float* x = nullptr;  // DOT: x[j, h, :]
  std::int64_t x_sn = 0, x_sh = 0;
  float* dw = nullptr;  // DOT: dw[e, h] += a <src_i, x_j>
  float a = 1.0f, c = 0.0f;
  const float* y = nullptr;  // out = a * sum + c * y (y unused when c == 0; may be out)
  std::int64_t y_sn = 0, y_sh = 0;
  float* out = nullptr;
  std::int64_t o_sn = 0, o_sh = 0;
  std::int64_t hub_min = kNoHubs;
  const std::int32_t* hubs = nullptr;
  std::int64_t n_hubs = 0, n_chunks = 1;
  float* partial = nullptr;
};

// The lane that holds slot m (0..7) of a step's dots after the grouped reduction.
__device__ __forceinline__ int dot_lane(int m) {
  return (m & 1) * 16 + (m >> 2) * 8 + ((m >> 1) & 1) * 4;
}

// Edges [tb, te) of one row and head into acc (lane's VEC features, partial over its 16-lane
// group); with DOT also dw of each edge. The whole warp calls it.
template <int VEC, bool DOT, bool SOFTMAX>
__device__ __forceinline__ void gather_range(const GatherArgs& g, std::int64_t tb, std::int64_t te, int h,
                                             float s_row, const float (&xv)[VEC], float (&acc)[VEC],
                                             int2* stage, int lane) {
  const int group = lane >> 4;
  const float* srch = g.src + h * g.s_sh + (lane & 15) * VEC;
  const std::int64_t H = g.H;
  for (std::int64_t base = tb; base < te; base += 32) {
    const int cnt = static_cast<int>(te - base < 32 ? te - base : 32);
    int j = 0;
    float wv = 0.0f, old = 0.0f;
    std::int64_t k = 0;
    if (lane < cnt) {
      const std::int64_t t = base + lane;
      const std::int64_t e = g.perm ? __ldg(g.perm + t) : t;
      k = e * H + h;
      j = __ldg(g.col + t);
      if constexpr (SOFTMAX) {
        wv = __ldg(g.w + k) * (g.grad[k] - s_row);
        g.grad[k] = wv;
      } else {
        wv = __ldg(g.w + k);
      }
      if constexpr (DOT) old = g.dw[k];
    }
    __syncwarp();                                    // the previous batch's readers are done with the slots
    stage[lane] = make_int2(j, __float_as_int(wv));  // past cnt: row 0, weight 0
    __syncwarp();
    float mydot = 0.0f;
    for (int t = 0; t < cnt; t += 8) {
      float v[4][VEC];
      float wu[4];
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        const int2 pr = stage[t + 2 * u + group];
        wu[u] = __int_as_float(pr.y);
        load_vec<VEC>(srch + static_cast<std::int64_t>(pr.x) * g.s_sn, v[u]);
      }
#pragma unroll
      for (int u = 0; u < 4; ++u)
#pragma unroll
        for (int q = 0; q < VEC; ++q) acc[q] = fmaf(wu[u], v[u][q], acc[q]);
      if constexpr (DOT) {
        float d[4];
#pragma unroll
        for (int u = 0; u < 4; ++u) {
          d[u] = 0.0f;
#pragma unroll
          for (int q = 0; q < VEC; ++q) d[u] = fmaf(v[u][q], xv[q], d[u]);
        }
        // Lanes l and l ^ 8 trade halves: afterwards lane l holds edges 0, 1 (bit 3 clear) or
        // 2, 3 (set) summed over both; then l ^ 4 the same for one edge; then l ^ 2, l ^ 1.
        const bool b8 = (lane & 8) != 0, b4 = (lane & 4) != 0;
        const float w0 = (b8 ? d[2] : d[0]) + __shfl_xor_sync(kFull, b8 ? d[0] : d[2], 8);
        const float w1 = (b8 ? d[3] : d[1]) + __shfl_xor_sync(kFull, b8 ? d[1] : d[3], 8);
        float z = (b4 ? w1 : w0) + __shfl_xor_sync(kFull, b4 ? w0 : w1, 4);
        z += __shfl_xor_sync(kFull, z, 2);
        z += __shfl_xor_sync(kFull, z, 1);
        // z: the dot of slot 2 * (2 b8 + b4) + group; lane t + m takes slot m.
        const float r = __shfl_sync(kFull, z, dot_lane(lane & 7));
        if ((lane >> 3) == (t >> 3)) mydot = r;
      }
    }
    if constexpr (DOT) {
      if (lane < cnt) g.dw[k] = old + g.a * mydot;
    }
  }
}

template <int VEC>
__device__ __forceinline__ void reduce_groups(float (&acc)[VEC]) {
#pragma unroll
  for (int q = 0; q < VEC; ++q) acc[q] += __shfl_xor_sync(kFull, acc[q], 16);
}

// One warp per (row, head); CTA = kGTileRows rows x G heads; grid (head group, tile), head group
// outermost. Hub rows (degree > hub_min) are left to the hub kernels.
template <int VEC, bool DOT, bool SOFTMAX>
__global__ void __launch_bounds__(kBwdThreads, VEC >= 8 ? 2 : 4)
    gather_rows_kernel(const GatherArgs g, int G, std::int64_t tiles) {
  __shared__ int2 stage[kBwdWarps][32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const std::int64_t hg = blockIdx.x / tiles, tile = blockIdx.x % tiles;
  const int h = static_cast<int>(hg) * G + warp % G;
  if (h >= g.H) return;
  const int f0 = (lane & 15) * VEC;
  const std::int64_t H = g.H;
  for (int r = warp / G; r < kGTileRows; r += kBwdWarps / G) {
    const std::int64_t j = tile * kGTileRows + r;
    if (j >= g.n) break;
    const std::int64_t rb = __ldg(g.row_ptr + j), re = __ldg(g.row_ptr + j + 1);
    if (re - rb > g.hub_min) continue;
    float xv[VEC], acc[VEC];
#pragma unroll
    for (int q = 0; q < VEC; ++q) xv[q] = acc[q] = 0.0f;
    if constexpr (DOT) load_vec<VEC>(g.x + j * g.x_sn + h * g.x_sh + f0, xv);
    float s_row = 0.0f;
    if constexpr (SOFTMAX) {
      for (std::int64_t t = rb + lane; t < re; t += 32) s_row += __ldg(g.w + t * H + h) * g.grad[t * H + h];
      s_row = warp_sum(s_row);
    }
    gather_range<VEC, DOT, SOFTMAX>(g, rb, re, h, s_row, xv, acc, stage[warp], lane);
    reduce_groups(acc);
    if (lane < 16) {
      float o[VEC];
      if (g.c != 0.0f) {
        float yv[VEC];  // y may be out: read before written, by the same lane
        load_vec<VEC>(g.y + j * g.y_sn + h * g.y_sh + f0, yv);
#pragma unroll
        for (int q = 0; q < VEC; ++q) o[q] = g.a * acc[q] + g.c * yv[q];
      } else {
#pragma unroll
        for (int q = 0; q < VEC; ++q) o[q] = g.a * acc[q];
      }
      store_vec<VEC>(g.out + j * g.o_sn + h * g.o_sh + f0, o);
    }
  }
}

// Hub rows: CTA (head, chunk, batch of 8 hubs), one warp per hub; chunk ch covers edges
// [rb + (ch + m n_chunks) kHubChunk, + kHubChunk) for m = 0, 1, ... Writes its partial sum.
template <int VEC, bool DOT>
__global__ void __launch_bounds__(kBwdThreads, VEC >= 8 ? 2 : 4) gather_hub_kernel(const GatherArgs g) {
  __shared__ int2 stage[kBwdWarps][32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const std::int64_t n_hb = (g.n_hubs + kBwdWarps - 1) / kBwdWarps;
  const std::int64_t hb = blockIdx.x % n_hb, rest = blockIdx.x / n_hb;
  const std::int64_t ch = rest % g.n_chunks;
  const int h = static_cast<int>(rest / g.n_chunks);
  const std::int64_t hub = hb * kBwdWarps + warp;
  if (hub >= g.n_hubs) return;
  const std::int64_t j = __ldg(g.hubs + hub);
  const std::int64_t rb = __ldg(g.row_ptr + j), re = __ldg(g.row_ptr + j + 1);
  const int f0 = (lane & 15) * VEC;
  float xv[VEC], acc[VEC];
#pragma unroll
  for (int q = 0; q < VEC; ++q) xv[q] = acc[q] = 0.0f;
  if constexpr (DOT) load_vec<VEC>(g.x + j * g.x_sn + h * g.x_sh + f0, xv);
  for (std::int64_t s = rb + ch * kHubChunk; s < re; s += g.n_chunks * kHubChunk)
    gather_range<VEC, DOT, false>(g, s, s + kHubChunk < re ? s + kHubChunk : re, h, 0.0f, xv, acc,
                                  stage[warp], lane);
  reduce_groups(acc);
  if (lane < 16) store_vec<VEC>(g.partial + ((hub * g.H + h) * g.n_chunks + ch) * g.D + f0, acc);
}

// out[hub row, h, :] = a * (partials summed in chunk order) + c * y. One CTA per (hub, head).
static __global__ void gather_hub_combine(const GatherArgs g) {
  const std::int64_t hub = blockIdx.x / g.H;
  const int h = static_cast<int>(blockIdx.x % g.H);
  const std::int64_t j = __ldg(g.hubs + hub);
  const float* part = g.partial + (hub * g.H + h) * g.n_chunks * g.D;
  for (int f = threadIdx.x; f < g.D; f += blockDim.x) {
    float sum = 0.0f;
    for (std::int64_t ch = 0; ch < g.n_chunks; ++ch) sum += part[ch * g.D + f];
    float o = g.a * sum;
    if (g.c != 0.0f) o += g.c * g.y[j * g.y_sn + h * g.y_sh + f];
    g.out[j * g.o_sn + h * g.o_sh + f] = o;
  }
}

// The softmax backward of hub rows (forward graph): one CTA per (hub, head), the row sum reduced in
// a fixed tree (deterministic).
static __global__ void __launch_bounds__(kBwdThreads) hub_softmax_kernel(const GatherArgs g) {
  __shared__ float red[kBwdThreads];
  const std::int64_t hub = blockIdx.x / g.H;
  const std::int64_t H = g.H, h = blockIdx.x % g.H;
  const std::int64_t j = __ldg(g.hubs + hub);
  const std::int64_t rb = __ldg(g.row_ptr + j), re = __ldg(g.row_ptr + j + 1);
  float s = 0.0f;
  for (std::int64_t t = rb + threadIdx.x; t < re; t += kBwdThreads) s += g.w[t * H + h] * g.grad[t * H + h];
  red[threadIdx.x] = s;
  __syncthreads();
  for (int o = kBwdThreads / 2; o > 0; o >>= 1) {
    if (static_cast<int>(threadIdx.x) < o) red[threadIdx.x] += red[threadIdx.x + o];
    __syncthreads();
  }
  s = red[0];
  for (std::int64_t t = rb + threadIdx.x; t < re; t += kBwdThreads) {
    const std::int64_t k = t * H + h;
    g.grad[k] = g.w[k] * (g.grad[k] - s);
  }
}

// Whether the fast kernels take a view: D in {16, 32, 64, 128}, rows aligned to the vector. The
// context's backward_generic (DIFFUSER_BWD_GENERIC=1) sends everything to the generic kernels (the
// first versions; measurements).
inline bool gather_fast_dim(std::int64_t d) {
  return !current_context().options().cuda.backward_generic && (d == 16 || d == 32 || d == 64 || d == 128);
}
inline bool gather_fast_view(const void* p, std::int64_t sn, std::int64_t sh, std::int64_t d) {
  const std::int64_t vec = d / 16;
  return reinterpret_cast<std::uintptr_t>(p) % static_cast<std::uintptr_t>(vec * 4) == 0 && sn % vec == 0 &&
         sh % vec == 0;
}

// Heads per CTA: 4 when H allows (a whole 16-byte piece of the 48-byte edge row at H = 12), else
// 2 or 1. The context's backward_heads (DIFFUSER_BWD_HEADS) = 1, 2 or 4 overrides (measurements).
inline int gather_heads_per_cta(std::int64_t H) {
  const int forced = current_context().options().cuda.backward_heads;
  if (forced == 1 || forced == 2 || forced == 4) return forced;
  return H % 4 == 0 ? 4 : H % 2 == 0 ? 2 : 1;
}

// Runs rows + hub kernels over graph t (the hub plan of t under the current schedule).
template <bool DOT, bool SOFTMAX>
void launch_gather(const CsrView& t, GatherArgs g) {
  if (t.n == 0 || g.H == 0) return;
  const HubPlan plan = hub_plan(t);
  g.hub_min = plan.threshold;
  const int G = gather_heads_per_cta(g.H);
  const std::int64_t tiles = (t.n + kGTileRows - 1) / kGTileRows;
  const std::int64_t blocks = tiles * ((g.H + G - 1) / G);
  DIFFUSER_CHECK(blocks < (std::int64_t{1} << 31), "graph too large for one launch");
  auto run = [&]<int VEC>() {
    gather_rows_kernel<VEC, DOT, SOFTMAX>
        <<<static_cast<unsigned>(blocks), kBwdThreads, 0, current_stream()>>>(g, G, tiles);
    DIFFUSER_CUDA_LAUNCHED("gather_rows_kernel");
    if (plan.n_hubs == 0) return;
    GatherArgs hg = g;
    hg.hubs = plan.hubs;
    hg.n_hubs = plan.n_hubs;
    if constexpr (SOFTMAX) {
      hub_softmax_kernel<<<static_cast<unsigned>(plan.n_hubs * g.H), kBwdThreads, 0, current_stream()>>>(hg);
      DIFFUSER_CUDA_LAUNCHED("hub_softmax_kernel");
      hg.w = g.grad;  // the hub rows' dS, written by the kernel above
    }
    // One chunk per kHubChunk edges of a degree-N row, at most kMaxHubChunks (the scratch stays
    // n_hubs x H x 128 x D floats; above N = 65,536 a warp walks several pieces of its row).
    const std::int64_t n_chunks = (t.n + kHubChunk - 1) / kHubChunk;
    hg.n_chunks = n_chunks < 1 ? 1 : n_chunks > kMaxHubChunks ? kMaxHubChunks : n_chunks;
    Buffer<float> scratch(plan.n_hubs * g.H * hg.n_chunks * g.D, Device::cuda);  // freed after the kernels
    hg.partial = scratch.data();
    const std::int64_t n_hb = (plan.n_hubs + kBwdWarps - 1) / kBwdWarps;
    const std::int64_t hub_blocks = n_hb * hg.n_chunks * g.H;
    DIFFUSER_CHECK(hub_blocks < (std::int64_t{1} << 31), "graph too large for one launch");
    gather_hub_kernel<VEC, DOT && !SOFTMAX>
        <<<static_cast<unsigned>(hub_blocks), kBwdThreads, 0, current_stream()>>>(hg);
    DIFFUSER_CUDA_LAUNCHED("gather_hub_kernel");
    gather_hub_combine<<<static_cast<unsigned>(plan.n_hubs * g.H), 128, 0, current_stream()>>>(hg);
    DIFFUSER_CUDA_LAUNCHED("gather_hub_combine");
  };
  switch (g.D) {
    case 16:
      run.template operator()<1>();
      break;
    case 32:
      run.template operator()<2>();
      break;
    case 64:
      run.template operator()<4>();
      break;
    default:
      run.template operator()<8>();
      break;
  }
}

}  // namespace diffuser::cuda::grad
