// Dropout on the GPU: the keep test of every element is the same pure function of (seed, stream,
// logical index) as on the CPU (ops_backward.hpp), so the masks agree bit for bit.
#include <diffuser/engine/ops_backward.hpp>

#include "backward_backend.hpp"
#include "backward_common.cuh"

namespace diffuser::cuda::grad {

namespace {

__global__ void dropout_kernel(float* x, std::int64_t n, std::int64_t H, std::int64_t D, std::int64_t sn,
                               std::int64_t sh, std::uint32_t thr, float scale, std::uint64_t key) {
  const std::int64_t f = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (f >= n * H * D) return;
  const std::int64_t t = f % D, h = (f / D) % H, i = f / (D * H);
  float& v = x[i * sn + h * sh + t];
  v = ops::dropout_keep_key(key, static_cast<std::uint64_t>(f), thr) ? v * scale : 0.0f;
}

__global__ void dropout_edges_kernel(float* w, std::int64_t E, std::int64_t H, bool head_major,
                                     std::uint32_t thr, float scale, std::uint64_t key) {
  const std::int64_t f = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;  // e * H + h
  if (f >= E * H) return;
  const std::int64_t e = f / H, h = f % H;
  float& v = w[head_major ? h * E + e : f];
  v = ops::dropout_keep_key(key, static_cast<std::uint64_t>(f), thr) ? v * scale : 0.0f;
}

}  // namespace

void dropout(Tensor3View<float> x, float p, std::uint64_t seed, std::uint64_t stream) {
  const std::int64_t count = x.n * x.h * x.d;
  dropout_kernel<<<blocks_for(count, 256), 256, 0, kStream>>>(x.data, x.n, x.h, x.d, x.stride_n, x.stride_h,
                                                              ops::dropout_threshold(p), 1.0f / (1.0f - p),
                                                              ops::dropout_key(seed, stream));
  DIFFUSER_CUDA_LAUNCHED("dropout_kernel");
}

void dropout_edges(MatrixView<float> w, bool head_major, float p, std::uint64_t seed, std::uint64_t stream) {
  const std::int64_t E = head_major ? w.cols : w.rows, H = head_major ? w.rows : w.cols;
  dropout_edges_kernel<<<blocks_for(E * H, 256), 256, 0, kStream>>>(
      w.data, E, H, head_major, ops::dropout_threshold(p), 1.0f / (1.0f - p), ops::dropout_key(seed, stream));
  DIFFUSER_CUDA_LAUNCHED("dropout_edges_kernel");
}

}  // namespace diffuser::cuda::grad
