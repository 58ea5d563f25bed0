// Chooses and launches the score kernels (edge_dot: SOFTMAX = false; edge_attention: true).
#pragma once

#include <type_traits>

#include "../src/cuda_schedule.hpp"
#include "dispatch.cuh"
#include "score_kernels.cuh"
#include "score_panel.cuh"

namespace diffuser::cuda {

// Edges per step of score_warp: at most about 32 registers of loaded k per lane (float32 up to 16,
// bf16 32). Default 8.
template <class T>
int score_step_for(int requested) {
  const int most = sizeof(T) == 4 ? 16 : 32;
  if (requested <= 0) return 8;  // measured best (docs/GPU.md)
  if (requested > most) return most;
  return requested < 8 ? 8 : requested;
}

template <class T, int D, int LPE, bool SOFTMAX>
void launch_score_step(const ScoreArgs<T>& p, int step, unsigned blocks, std::int64_t tiles) {
  if constexpr (D == 64 && SOFTMAX) {
    if (step == 32 && sizeof(T) == 2) {
      score_warp<T, D, LPE, sizeof(T) == 2 ? 32 : 16, SOFTMAX>
          <<<blocks, kThreads, 0, current_stream()>>>(p, tiles);
      return;
    }
    if (step == 16) {
      score_warp<T, D, LPE, 16, SOFTMAX><<<blocks, kThreads, 0, current_stream()>>>(p, tiles);
      return;
    }
  }
  (void)step;
  score_warp<T, D, LPE, 8, SOFTMAX><<<blocks, kThreads, 0, current_stream()>>>(p, tiles);
}

template <class T, int D, bool SOFTMAX>
void launch_scores_fast(const CsrView& g, ScoreArgs<T> p, std::int64_t heads) {
  const CudaSchedule& s = current_schedule();
  const HubPlan plan = hub_plan(g);
  p.hub_min = plan.threshold;
  std::int64_t tiles = 0;
  const unsigned blocks = head_major_blocks(g.n, heads, &tiles);
  const int step = score_step_for<T>(s.score_step);
  // Other head sizes and the plain scores (edge_dot) get one kernel: 8 lanes per edge.
  const int lanes = (D == 64 && SOFTMAX) ? s.score_lanes : 8;
  if constexpr (D == 64 && SOFTMAX) {
    if (lanes == 16)
      launch_score_step<T, D, 16, SOFTMAX>(p, step, blocks, tiles);
    else if (lanes == 32)
      launch_score_step<T, D, 32, SOFTMAX>(p, step, blocks, tiles);
    else
      launch_score_step<T, D, 8, SOFTMAX>(p, step, blocks, tiles);
  } else {
    (void)lanes;
    launch_score_step<T, D, 8, SOFTMAX>(p, step, blocks, tiles);
  }
  DIFFUSER_CUDA_LAUNCHED("score_warp");
  if (plan.n_hubs == 0) return;
  Buffer<float> scratch;
  const HubGrid hg = make_hub_grid(g.n, plan, p.heads, 4096 / D, 2, scratch);  // hub_score_partial's tile
  bool tensor_cores = false;
  if constexpr (std::is_same_v<T, bf16> && D == 64) {
    if (s.panels) {  // the schedule's panel switch covers the hub scores too
      hub_score_panel<SOFTMAX><<<hub_blocks(hg, p.heads), kThreads, 0, current_stream()>>>(p, hg);
      DIFFUSER_CUDA_LAUNCHED("hub_score_panel");
      tensor_cores = true;
    }
  }
  if (!tensor_cores) {
    hub_score_partial<T, D, SOFTMAX><<<hub_blocks(hg, p.heads), kThreads, 0, current_stream()>>>(p, hg);
    DIFFUSER_CUDA_LAUNCHED("hub_score_partial");
  }
  if constexpr (SOFTMAX) {
    hub_score_finish<T>
        <<<static_cast<unsigned>(plan.n_hubs * p.heads), kThreads, 0, current_stream()>>>(p, hg);
    DIFFUSER_CUDA_LAUNCHED("hub_score_finish");
  }
}

template <class T, bool SOFTMAX>
void run_scores(const CsrView& g, Tensor3View<const T> q, Tensor3View<const T> k, float scale,
                const std::uint8_t* mask, float* w, std::int64_t wse, std::int64_t wsh) {
  if (g.n == 0 || g.nnz == 0) return;
  ScoreArgs<T> p{g.row_ptr,
                 g.col,
                 g.n,
                 q.data,
                 q.stride_n,
                 q.stride_h,
                 k.data,
                 k.stride_n,
                 k.stride_h,
                 w,
                 wse,
                 wsh,
                 mask,
                 scale,
                 static_cast<int>(q.h),
                 static_cast<int>(q.d),
                 kNoHubs};
  const bool fast =
      (q.d == 64 || q.d == 128) && aligned16(q) && aligned16(k) && k.stride_n < (std::int64_t{1} << 31);
  if (!fast) {
    std::int64_t tiles = 0;
    const unsigned blocks = head_major_blocks(g.n, q.h, &tiles);
    score_generic<T, SOFTMAX><<<blocks, kThreads, 0, current_stream()>>>(p, tiles);
    DIFFUSER_CUDA_LAUNCHED("score_generic");
    return;
  }
  if (q.d == 64)
    launch_scores_fast<T, 64, SOFTMAX>(g, p, q.h);
  else
    launch_scores_fast<T, 128, SOFTMAX>(g, p, q.h);
}

}  // namespace diffuser::cuda
