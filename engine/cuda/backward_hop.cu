// One diffusion hop's backward on the GPU, fused over the reverse graph: a warp per (source row j,
// head h) keeps x_j,h in registers and reads each destination's p_i,h once for both the transposed
// gather and the edge-weight gradient. Head sizes 16, 32, 64, 128 (aligned) take the fast gather of
// backward_gather.cuh (hub rows split, docs/GPU.md section 9); others the generic kernel below (one
// edge per iteration, a warp sum per edge; lane 0 is the edge's only writer).
#include "backward_backend.hpp"
#include "backward_common.cuh"
#include "backward_gather.cuh"

namespace diffuser::cuda::grad {

namespace {

template <int P>
__global__ void hop_backward_kernel(const std::int64_t* __restrict__ row_ptr,
                                    const std::int32_t* __restrict__ col,
                                    const std::int64_t* __restrict__ perm, std::int64_t n, std::int64_t H,
                                    std::int64_t D, const float* __restrict__ w, float a,
                                    const float* __restrict__ p, std::int64_t p_sn, std::int64_t p_sh,
                                    const float* __restrict__ x, std::int64_t x_sn, std::int64_t x_sh,
                                    float c, const float* y, std::int64_t y_sn, std::int64_t y_sh, float* dw,
                                    float* out, std::int64_t o_sn, std::int64_t o_sh) {
  const std::int64_t item = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (item >= n * H) return;
  const std::int64_t j = item / H, h = item % H;
  float xv[P], acc[P];
  const float* xr = x + j * x_sn + h * x_sh;
#pragma unroll
  for (int r = 0; r < P; ++r) {
    const std::int64_t d = lane + 32 * r;
    xv[r] = d < D ? xr[d] : 0.0f;
    acc[r] = 0.0f;
  }
  for (std::int64_t t = row_ptr[j]; t < row_ptr[j + 1]; ++t) {
    const std::int64_t e = perm ? perm[t] : t;
    const float wv = w[e * H + h];
    const float* pr = p + col[t] * p_sn + h * p_sh;
    float dot = 0.0f;
#pragma unroll
    for (int r = 0; r < P; ++r) {
      const std::int64_t d = lane + 32 * r;
      const float pv = d < D ? pr[d] : 0.0f;
      dot += pv * xv[r];
      acc[r] += wv * pv;
    }
    dot = warp_sum(dot);
    if (lane == 0) dw[e * H + h] += a * dot;
  }
  // y may be out itself: each lane reads its own elements before writing them.
  const float* yr = c != 0.0f ? y + j * y_sn + h * y_sh : nullptr;
  float* o = out + j * o_sn + h * o_sh;
#pragma unroll
  for (int r = 0; r < P; ++r) {
    const std::int64_t d = lane + 32 * r;
    if (d < D) o[d] = a * acc[r] + (yr ? c * yr[d] : 0.0f);
  }
}

}  // namespace

void hop_backward(const ReverseView& rg, MatrixView<const float> w, float a, Tensor3View<const float> p,
                  Tensor3View<const float> x, float c, Tensor3View<const float> y, MatrixView<float> dw,
                  Tensor3View<float> out) {
  check_head_dim("hop_backward", p.d);
  const std::int64_t items = rg.t.n * p.h;
  if (items == 0) return;
  if (gather_fast_dim(p.d) && gather_fast_view(p.data, p.stride_n, p.stride_h, p.d) &&
      gather_fast_view(x.data, x.stride_n, x.stride_h, p.d) &&
      gather_fast_view(out.data, out.stride_n, out.stride_h, p.d) &&
      (c == 0.0f || gather_fast_view(y.data, y.stride_n, y.stride_h, p.d))) {
    GatherArgs g;
    g.row_ptr = rg.t.row_ptr;
    g.col = rg.t.col;
    g.perm = rg.perm;
    g.n = rg.t.n;
    g.H = static_cast<int>(p.h);
    g.D = static_cast<int>(p.d);
    g.w = w.data;
    g.src = p.data;
    g.s_sn = p.stride_n;
    g.s_sh = p.stride_h;
    g.x = x.data;
    g.x_sn = x.stride_n;
    g.x_sh = x.stride_h;
    g.dw = dw.data;
    g.a = a;
    g.c = c;
    g.y = y.data;
    g.y_sn = y.stride_n;
    g.y_sh = y.stride_h;
    g.out = out.data;
    g.o_sn = out.stride_n;
    g.o_sh = out.stride_h;
    launch_gather<true, false>(rg.t, g);
    return;
  }
  dispatch_per_lane(p.d, [&]<int P>() {
    hop_backward_kernel<P><<<warp_blocks(items), kBwdThreads, 0, current_stream()>>>(
        rg.t.row_ptr, rg.t.col, rg.perm, rg.t.n, p.h, p.d, w.data, a, p.data, p.stride_n, p.stride_h, x.data,
        x.stride_n, x.stride_h, c, y.data, y.stride_n, y.stride_h, dw.data, out.data, out.stride_n,
        out.stride_h);
    DIFFUSER_CUDA_LAUNCHED("hop_backward_kernel");
  });
}

}  // namespace diffuser::cuda::grad
