// Edge-softmax and score backward on the GPU. Softmax backward: one warp per (row, head), lanes
// across the row's edges. attention_backward, head sizes 16, 32, 64, 128: the fast gather of
// backward_gather.cuh, the row's sum first, then dS computed, written and staged per batch of 32
// edges while dq_i,h = scale sum dS k_j,h is gathered; hub rows (the global tokens) by a CTA-wide
// softmax backward and the chunked hub gather. Other head sizes: the generic kernel below (dS read
// back after __syncwarp, one edge per iteration). dk is the transposed gather of dS with q
// (backward_scatter.cu).
#include "backward_backend.hpp"
#include "backward_common.cuh"
#include "backward_gather.cuh"

namespace diffuser::cuda::grad {

namespace {

// grad <- w * (grad - sum_row w * grad) for row i, head h; all lanes of the warp take part.
__device__ inline void softmax_backward_row(const float* __restrict__ w, float* grad, std::int64_t b,
                                            std::int64_t e, std::int64_t H, std::int64_t h, int lane) {
  float s = 0.0f;
  for (std::int64_t t = b + lane; t < e; t += 32) s += w[t * H + h] * grad[t * H + h];
  s = warp_sum(s);
  for (std::int64_t t = b + lane; t < e; t += 32) grad[t * H + h] = w[t * H + h] * (grad[t * H + h] - s);
}

__global__ void softmax_backward_kernel(const std::int64_t* __restrict__ row_ptr, std::int64_t n,
                                        std::int64_t H, const float* __restrict__ w, float* grad) {
  const std::int64_t item = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (item >= n * H) return;
  const std::int64_t i = item / H, h = item % H;
  softmax_backward_row(w, grad, row_ptr[i], row_ptr[i + 1], H, h, threadIdx.x & 31);
}

template <int P>
__global__ void score_backward_kernel(const std::int64_t* __restrict__ row_ptr,
                                      const std::int32_t* __restrict__ col, std::int64_t n, std::int64_t H,
                                      std::int64_t D, const float* __restrict__ w, float* grad, float scale,
                                      const float* __restrict__ k, std::int64_t k_sn, std::int64_t k_sh,
                                      float* dq, std::int64_t q_sn, std::int64_t q_sh) {
  const std::int64_t item = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (item >= n * H) return;
  const std::int64_t i = item / H, h = item % H;
  const std::int64_t b = row_ptr[i], e = row_ptr[i + 1];
  softmax_backward_row(w, grad, b, e, H, h, lane);
  __syncwarp();
  float acc[P];
#pragma unroll
  for (int r = 0; r < P; ++r) acc[r] = 0.0f;
  for (std::int64_t t = b; t < e; ++t) {
    const float ds = grad[t * H + h];
    const float* kr = k + col[t] * k_sn + h * k_sh;
#pragma unroll
    for (int r = 0; r < P; ++r) {
      const std::int64_t d = lane + 32 * r;
      if (d < D) acc[r] += ds * kr[d];
    }
  }
  float* o = dq + i * q_sn + h * q_sh;
#pragma unroll
  for (int r = 0; r < P; ++r) {
    const std::int64_t d = lane + 32 * r;
    if (d < D) o[d] = scale * acc[r];
  }
}

}  // namespace

void edge_softmax_backward(const CsrView& g, MatrixView<const float> w, MatrixView<float> grad) {
  const std::int64_t items = g.n * w.cols;
  if (items == 0) return;
  softmax_backward_kernel<<<warp_blocks(items), kBwdThreads, 0, current_stream()>>>(g.row_ptr, g.n, w.cols,
                                                                                    w.data, grad.data);
  DIFFUSER_CUDA_LAUNCHED("softmax_backward_kernel");
}

void attention_backward(const CsrView& g, const ReverseView& rg, Tensor3View<const float> q,
                        Tensor3View<const float> k, float scale, MatrixView<const float> w,
                        MatrixView<float> grad, Tensor3View<float> dq, Tensor3View<float> dk) {
  check_head_dim("attention_backward", q.d);
  const std::int64_t items = g.n * q.h;
  if (items == 0) return;
  if (gather_fast_dim(q.d) && gather_fast_view(k.data, k.stride_n, k.stride_h, q.d) &&
      gather_fast_view(dq.data, dq.stride_n, dq.stride_h, q.d)) {
    GatherArgs a;
    a.row_ptr = g.row_ptr;
    a.col = g.col;
    a.n = g.n;
    a.H = static_cast<int>(q.h);
    a.D = static_cast<int>(q.d);
    a.w = w.data;
    a.grad = grad.data;
    a.src = k.data;
    a.s_sn = k.stride_n;
    a.s_sh = k.stride_h;
    a.a = scale;
    a.c = 0.0f;
    a.out = dq.data;
    a.o_sn = dq.stride_n;
    a.o_sh = dq.stride_h;
    launch_gather<false, true>(g, a);
    if (dk.data) scatter_axpby(rg, grad, scale, q, 0.0f, {}, dk);
    return;
  }
  dispatch_per_lane(q.d, [&]<int P>() {
    score_backward_kernel<P><<<warp_blocks(items), kBwdThreads, 0, current_stream()>>>(
        g.row_ptr, g.col, g.n, q.h, q.d, w.data, grad.data, scale, k.data, k.stride_n, k.stride_h, dq.data,
        dq.stride_n, dq.stride_h);
    DIFFUSER_CUDA_LAUNCHED("score_backward_kernel");
  });
  if (dk.data) scatter_axpby(rg, grad, scale, q, 0.0f, {}, dk);
}

}  // namespace diffuser::cuda::grad
