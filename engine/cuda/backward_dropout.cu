// Dropout on the GPU: the keep test of every element is the same pure function of (seed, stream,
// logical index) as on the CPU (ops_backward.hpp), so the masks agree bit for bit. The logical index
// is the element's in the whole tensor (ops::HeadSlice: heads [h0, h0 + g) of H).
#include <diffuser/engine/ops_backward.hpp>

#include "backward_backend.hpp"
#include "backward_common.cuh"

namespace diffuser::cuda::grad {

namespace {

// One thread per element of the (n, g, D) view; its logical index uses H and h0 + h.
__global__ void dropout_kernel(float* x, std::int64_t n, std::int64_t g, std::int64_t D, std::int64_t sn,
                               std::int64_t sh, std::int64_t H, std::int64_t h0, std::uint32_t thr,
                               float scale, std::uint64_t key) {
  const std::int64_t f = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (f >= n * g * D) return;
  const std::int64_t t = f % D, h = (f / D) % g, i = f / (D * g);
  float& v = x[i * sn + h * sh + t];
  const auto logical = static_cast<std::uint64_t>((i * H + h0 + h) * D + t);
  v = ops::dropout_keep_key(key, logical, thr) ? v * scale : 0.0f;
}

// One thread per value of the (E, g) or (g, E) edge buffer; logical index e * H + h0 + h.
__global__ void dropout_edges_kernel(float* w, std::int64_t E, std::int64_t g, bool head_major,
                                     std::int64_t H, std::int64_t h0, std::uint32_t thr, float scale,
                                     std::uint64_t key) {
  const std::int64_t f = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;  // e * g + h
  if (f >= E * g) return;
  const std::int64_t e = f / g, h = f % g;
  float& v = w[head_major ? h * E + e : f];
  const auto logical = static_cast<std::uint64_t>(e * H + h0 + h);
  v = ops::dropout_keep_key(key, logical, thr) ? v * scale : 0.0f;
}

}  // namespace

void dropout(Tensor3View<float> x, float p, std::uint64_t seed, std::uint64_t stream, ops::HeadSlice slice) {
  const std::int64_t count = x.n * x.h * x.d;
  dropout_kernel<<<blocks_for(count, 256), 256, 0, current_stream()>>>(
      x.data, x.n, x.h, x.d, x.stride_n, x.stride_h, slice.heads, slice.offset, ops::dropout_threshold(p),
      1.0f / (1.0f - p), ops::dropout_key(seed, stream));
  DIFFUSER_CUDA_LAUNCHED("dropout_kernel");
}

void dropout_edges(MatrixView<float> w, bool head_major, float p, std::uint64_t seed, std::uint64_t stream,
                   ops::HeadSlice slice) {
  const std::int64_t E = head_major ? w.cols : w.rows, g = head_major ? w.rows : w.cols;
  dropout_edges_kernel<<<blocks_for(E * g, 256), 256, 0, current_stream()>>>(
      w.data, E, g, head_major, slice.heads, slice.offset, ops::dropout_threshold(p), 1.0f / (1.0f - p),
      ops::dropout_key(seed, stream));
  DIFFUSER_CUDA_LAUNCHED("dropout_edges_kernel");
}

}  // namespace diffuser::cuda::grad
