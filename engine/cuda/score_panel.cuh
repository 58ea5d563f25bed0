// Hub rows' scores on tensor cores (bf16 rows, D = 64; docs/GPU.md section 10): the split of
// hub_score_partial (CTA = head x batch of 32 hubs x source range; per range an online (max, sum)
// per hub, combined in range order by hub_score_finish), with the 32 x 64 block of q . k of each
// 64-source tile as one tensor-core product (wmma bf16, fp32 accumulation) instead of float32
// FMAs, and each warp loading its 4 hubs' next 64 edges at once (at most 64 per tile: distinct
// sources), one memory latency per tile. The scale is applied to the float32 dot product.
#pragma once

#include <mma.h>

#include "score_kernels.cuh"

namespace diffuser::cuda {

template <bool SOFTMAX>
__global__ void __launch_bounds__(kWarps * 32) hub_score_panel(const ScoreArgs<bf16> p, const HubGrid hg) {
  using namespace nvcuda;
  constexpr int S = 64, D = 64, kLd = 64 + 8, kLdo = 64 + 4;
  static_assert(kHubBatch == 32 && kHubsPerWarp == 4, "one 16 x 16 block of scores per warp");
  __shared__ __align__(128) __nv_bfloat16 qs[kHubBatch][kLd];
  __shared__ __align__(128) __nv_bfloat16 ks[S][kLd];
  __shared__ __align__(128) float sc[kHubBatch][kLdo];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const std::int64_t cg = blockIdx.x % hg.n_cg, rest = blockIdx.x / hg.n_cg;
  const std::int64_t hb = rest % hg.n_hb, h = rest / hg.n_hb;
  const std::int64_t s_begin = cg * hg.sg;
  const std::int64_t s_end = s_begin + hg.sg < p.n ? s_begin + hg.sg : p.n;
  float* wh = p.w + h * p.wsh;
  const bf16* kh = p.k + h * p.k_sh;
  const auto k_sn = static_cast<std::uint32_t>(p.k_sn);
  for (int t = tid; t < kHubBatch * (D / 8);
       t += kWarps * 32) {  // q of the batch's hubs, zeros past the last
    const int hub_l = t / (D / 8), c = t % (D / 8);
    const std::int64_t hub = hb * kHubBatch + hub_l;
    uint4 v = make_uint4(0u, 0u, 0u, 0u);
    if (hub < hg.n_hubs)
      v = __ldg(reinterpret_cast<const uint4*>(
                    p.q + static_cast<std::int64_t>(__ldg(hg.hubs + hub)) * p.q_sn + h * p.q_sh) +
                c);
    *reinterpret_cast<uint4*>(&qs[hub_l][c * 8]) = v;
  }
  std::int64_t cur[kHubsPerWarp], end[kHubsPerWarp], hub_row[kHubsPerWarp];
  hub_cursors(p.row_ptr, p.col, hg, hb, warp, s_begin, cur, end, hub_row);
  bool row_ok[kHubsPerWarp];
  SoftmaxState st[kHubsPerWarp];
#pragma unroll
  for (int k = 0; k < kHubsPerWarp; ++k) {
    row_ok[k] = hub_row[k] >= 0 && token_real(p.mask, hub_row[k]);
    st[k] = SoftmaxState{-INFINITY, 0.0f};
  }
  const int rb = (warp >> 2) * 16, cb = (warp & 3) * 16;
  for (std::int64_t s = s_begin; s < s_end; s += S) {
    const std::int64_t bound = s + S < s_end ? s + S : s_end;
    int jj[kHubsPerWarp][2];
    hub_tile_cols(p.col, cur, end, lane, jj);
    load_tile64<kLd>(kh, k_sn, s, bound, ks);
    __syncthreads();
    {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.0f);
#pragma unroll
      for (int kk = 0; kk < D; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major>
            b;  // k rows = columns of k^T
        wmma::load_matrix_sync(a, &qs[rb][kk], kLd);
        wmma::load_matrix_sync(b, &ks[cb][kk], kLd);
        wmma::mma_sync(acc, a, b, acc);
      }
      wmma::store_matrix_sync(&sc[rb][cb], acc, kLdo, wmma::mem_row_major);
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kHubsPerWarp; ++k) {
      int taken = 0;
#pragma unroll
      for (int u = 0; u < 2; ++u) {
        const int j = jj[k][u];
        const bool in = j < bound;  // sources are sorted: the edges in the tile are a prefix
        if (in) {
          const float raw =
              (row_ok[k] && token_real(p.mask, j)) ? sc[warp * kHubsPerWarp + k][j - s] * p.scale : -INFINITY;
          wh[(cur[k] + u * 32 + lane) * p.wse] = raw;
          if constexpr (SOFTMAX) softmax_add(st[k], raw);
        }
        taken += __popc(__ballot_sync(kFull, in));
      }
      cur[k] += taken;
    }
    // The next tile's k rows overwrite ks before its barrier: every warp has passed this tile's
    // second barrier, so its product no longer reads them; sc is rewritten only after the next
    // first barrier, when every warp is done reading it.
  }
  if constexpr (SOFTMAX) store_hub_states(st, hg, hb, warp, lane, p.heads, h, cg);
}

}  // namespace diffuser::cuda
