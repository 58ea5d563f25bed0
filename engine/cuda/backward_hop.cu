// One diffusion hop's backward on the GPU, fused over the reverse graph: one warp per (source row j,
// head h) keeps x_j,h in registers, reads each destination's p_i,h once for both the transposed
// gather and the edge-weight gradient (a warp sum; lane 0 is the edge's only writer).
#include "backward_backend.hpp"
#include "backward_common.cuh"

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
  dispatch_per_lane(p.d, [&]<int P>() {
    hop_backward_kernel<P><<<warp_blocks(items), kBwdThreads, 0, kStream>>>(
        rg.t.row_ptr, rg.t.col, rg.perm, rg.t.n, p.h, p.d, w.data, a, p.data, p.stride_n, p.stride_h, x.data,
        x.stride_n, x.stride_h, c, y.data, y.stride_n, y.stride_h, dw.data, out.data, out.stride_n,
        out.stride_h);
    DIFFUSER_CUDA_LAUNCHED("hop_backward_kernel");
  });
}

}  // namespace diffuser::cuda::grad
