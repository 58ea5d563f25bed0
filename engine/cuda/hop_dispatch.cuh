// Chooses and launches the hop kernels (gather_axpby, and gather_sum through it).
#pragma once

#include "../src/cuda_schedule.hpp"
#include "dispatch.cuh"
#include "hop_kernels.cuh"

namespace diffuser::cuda {

// Edges per step a warp kernel may load at once: at most about 32 registers of loaded data per
// lane (float32: 8 or 16; bf16: up to 32; two heads per warp: half of that). Default 8.
template <class T>
int hop_step_for(int requested, bool two_heads) {
  int most = sizeof(T) == 4 ? 16 : 32;
  if (two_heads) most /= 2;
  if (requested <= 0) return 8;  // measured best (docs/GPU.md): more loads in flight cost warps
  if (requested > most) return most;
  return requested < 8 ? 8 : requested;
}

template <class T, int D, int HPW, int LPE>
void launch_hop_step(const CsrView& g, const HopArgs<T>& p, int step, std::int64_t head_groups) {
  std::int64_t tiles = 0;
  const unsigned blocks = head_major_blocks(g.n, head_groups, &tiles);
  if constexpr (D == 64) {
    constexpr bool kAllow16 = sizeof(T) == 2 || HPW == 1;
    constexpr bool kAllow32 = sizeof(T) == 2 && HPW == 1;
    if (step == 32 && kAllow32) {
      hop_warp<T, D, HPW, LPE, kAllow32 ? 32 : 8><<<blocks, kThreads, 0, current_stream()>>>(p, tiles);
      return;
    }
    if (step >= 16 && kAllow16) {
      hop_warp<T, D, HPW, LPE, kAllow16 ? 16 : 8><<<blocks, kThreads, 0, current_stream()>>>(p, tiles);
      return;
    }
  }
  (void)step;
  hop_warp<T, D, HPW, LPE, 8><<<blocks, kThreads, 0, current_stream()>>>(p, tiles);
}

// The hub rows of a hop (the ordinary rows' kernel skipped them).
template <class T, int D>
void launch_hub_hop(const CsrView& g, const HopArgs<T>& p, const HubPlan& plan) {
  if (plan.n_hubs == 0) return;
  Buffer<float> scratch;
  const HubGrid hg = make_hub_grid(g.n, plan, p.heads, kHubTile, D, scratch);
  hub_hop_partial<T, D><<<hub_blocks(hg, p.heads), kThreads, 0, current_stream()>>>(p, hg);
  DIFFUSER_CUDA_LAUNCHED("hub_hop_partial");
  hub_hop_combine<T><<<static_cast<unsigned>(plan.n_hubs * p.heads), D, 0, current_stream()>>>(p, hg);
  DIFFUSER_CUDA_LAUNCHED("hub_hop_combine");
}

template <class T, int D>
void launch_hop_fast(const CsrView& g, HopArgs<T> p) {
  const CudaSchedule& s = current_schedule();
  const HubPlan plan = hub_plan(g);
  p.hub_min = plan.threshold;
  const std::int64_t heads = p.heads;
  HopKernel kernel = s.hop;
  // Measured on an H200 (docs/GPU.md): float32 rows gather best with 16 lanes per edge (one
  // 16-byte load per lane), bf16 rows with 8 (the same 16 bytes hold twice the features).
  if (kernel == HopKernel::automatic) kernel = sizeof(T) == 4 ? HopKernel::w16 : HopKernel::w8;
  constexpr int kRowVec = 16 / static_cast<int>(sizeof(T));
  constexpr int kRowChunks = sizeof(T) == 4 ? 8 : 4;  // H * D up to 1024
  if (kernel == HopKernel::row && (heads * D > 32 * kRowVec * kRowChunks)) kernel = HopKernel::w16;
  if constexpr (D != 64) {
    if (kernel != HopKernel::row) kernel = HopKernel::w16;  // one kernel for other head sizes
  }
  const int step = hop_step_for<T>(s.hop_step, kernel == HopKernel::h2);
  switch (kernel) {
    case HopKernel::w32:
      if constexpr (D == 64) launch_hop_step<T, D, 1, 32>(g, p, step, heads);
      break;
    case HopKernel::automatic:  // resolved above
    case HopKernel::w16:
      launch_hop_step<T, D, 1, 16>(g, p, D == 64 ? step : 8, heads);
      break;
    case HopKernel::w8:
      if constexpr (D == 64) launch_hop_step<T, D, 1, 8>(g, p, step, heads);
      break;
    case HopKernel::h2:
      if constexpr (D == 64) launch_hop_step<T, D, 2, 32>(g, p, step, (heads + 1) / 2);
      break;
    case HopKernel::row:
      hop_row<T, kRowVec, kRowChunks><<<blocks_for(g.n, kWarps), kThreads, 0, current_stream()>>>(p);
      break;
  }
  DIFFUSER_CUDA_LAUNCHED("hop kernel");
  launch_hub_hop<T, D>(g, p, plan);
}

template <class T>
HopArgs<T> hop_args(const CsrView& g, const float* w, std::int64_t wse, std::int64_t wsh, float a,
                    Tensor3View<const T> x, float b, Tensor3View<const T> y, Tensor3View<T> out) {
  return HopArgs<T>{g.row_ptr,
                    g.col,
                    g.n,
                    w,
                    wse,
                    wsh,
                    a,
                    b,
                    x.data,
                    x.stride_n,
                    x.stride_h,
                    b != 0.0f ? y.data : nullptr,
                    y.stride_n,
                    y.stride_h,
                    out.data,
                    out.stride_n,
                    out.stride_h,
                    static_cast<int>(x.h),
                    static_cast<int>(x.d),
                    kNoHubs};
}

// The vector kernels' conditions: D of 64 or 128, 16-byte aligned rows, 32-bit row strides.
template <class T>
bool fast_hop(Tensor3View<const T> x, float b, Tensor3View<const T> y, Tensor3View<T> out) {
  return (x.d == 64 || x.d == 128) && aligned16(x) && aligned16(out) && (b == 0.0f || aligned16(y)) &&
         x.stride_n < (std::int64_t{1} << 31);
}

template <class T>
void run_hop(const CsrView& g, const float* w, std::int64_t wse, std::int64_t wsh, float a,
             Tensor3View<const T> x, float b, Tensor3View<const T> y, Tensor3View<T> out) {
  if (g.n == 0) return;
  const HopArgs<T> p = hop_args(g, w, wse, wsh, a, x, b, y, out);
  if (!fast_hop(x, b, y, out)) {
    std::int64_t tiles = 0;
    const unsigned blocks = head_major_blocks(g.n, x.h, &tiles);
    hop_generic<T><<<blocks, kThreads, 0, current_stream()>>>(p, tiles);
    DIFFUSER_CUDA_LAUNCHED("hop_generic");
    return;
  }
  if (x.d == 64)
    launch_hop_fast<T, 64>(g, p);
  else
    launch_hop_fast<T, 128>(g, p);
}

}  // namespace diffuser::cuda
