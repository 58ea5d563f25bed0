// Elementwise dense primitives and column sums on the GPU. Elementwise kernels: one thread per value
// (grid-stride). Column sums: deterministic, no atomics, in the CPU's order (dense_kernels.hpp): one
// thread per (block of 128 rows, column) adds its rows in order into a partial sum, then one thread
// per column adds the partial sums in block order.
#include <algorithm>

#include <diffuser/engine/buffer.hpp>

#include "common.cuh"
#include "dense_backend.hpp"

namespace diffuser::cuda::dense {

namespace {

constexpr int kThreads = 256;
constexpr std::int64_t kSumBlock = 128;  // = cpu::dense::kSumBlock

unsigned flat_blocks(std::int64_t n) {
  return static_cast<unsigned>(std::min<std::int64_t>(blocks_for(n, kThreads), std::int64_t{1} << 20));
}

__device__ inline std::int64_t first_index() {
  return static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline std::int64_t grid_stride() {
  return static_cast<std::int64_t>(gridDim.x) * blockDim.x;
}

__global__ void bias_add_kernel(float* y, const float* __restrict__ bias, std::int64_t n, std::int64_t cols) {
  for (std::int64_t f = first_index(); f < n; f += grid_stride()) y[f] += bias[f % cols];
}

__global__ void axpby_kernel(float a, const float* x, float b, const float* y, float* out, std::int64_t n) {
  for (std::int64_t f = first_index(); f < n; f += grid_stride()) {
    const float v = b == 0.0f ? a * x[f] : a * x[f] + b * y[f];
    out[f] = v;
  }
}

__global__ void gelu_kernel(const float* x, float* y, std::int64_t n) {
  for (std::int64_t f = first_index(); f < n; f += grid_stride()) {
    const float v = x[f];
    y[f] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
  }
}

__global__ void gelu_backward_kernel(const float* __restrict__ x, const float* dy, float* dx,
                                     std::int64_t n) {
  for (std::int64_t f = first_index(); f < n; f += grid_stride()) {
    const float v = x[f];
    const float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
    const float pdf = 0.39894228040143268f * expf(-0.5f * v * v);
    dx[f] = dy[f] * (cdf + v * pdf);
  }
}

__global__ void tanh_kernel(const float* x, float* y, std::int64_t n) {
  for (std::int64_t f = first_index(); f < n; f += grid_stride()) y[f] = tanhf(x[f]);
}

__global__ void tanh_backward_kernel(const float* __restrict__ y, const float* dy, float* dx,
                                     std::int64_t n) {
  for (std::int64_t f = first_index(); f < n; f += grid_stride()) {
    const float v = y[f];
    dx[f] = dy[f] * (1.0f - v * v);
  }
}

// partial[blk * cols + c] = sum over the rows of block blk (in order) of a[i, c] (* b[i, c] when b).
// Grid: x = row blocks, y = tiles of kThreads columns.
__global__ void column_partial_kernel(const float* __restrict__ a, const float* __restrict__ b,
                                      std::int64_t rows, std::int64_t cols, float* __restrict__ partial) {
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.y) * blockDim.x + threadIdx.x;
  const std::int64_t blk = blockIdx.x;
  if (c >= cols) return;
  const std::int64_t r0 = blk * kSumBlock;
  const std::int64_t r1 = r0 + kSumBlock < rows ? r0 + kSumBlock : rows;
  float s = 0.0f;
  if (b) {
    for (std::int64_t i = r0; i < r1; ++i) s += a[i * cols + c] * b[i * cols + c];
  } else {
    for (std::int64_t i = r0; i < r1; ++i) s += a[i * cols + c];
  }
  partial[blk * cols + c] = s;
}

__global__ void column_finish_kernel(const float* __restrict__ partial, std::int64_t blocks,
                                     std::int64_t cols, float* out, bool accumulate) {
  const std::int64_t c = first_index();
  if (c >= cols) return;
  float s = 0.0f;
  for (std::int64_t blk = 0; blk < blocks; ++blk) s += partial[blk * cols + c];
  out[c] = accumulate ? out[c] + s : s;
}

void column_reduce(MatrixView<const float> a, const float* b, float* out, bool accumulate) {
  const std::int64_t rows = a.rows, cols = a.cols;
  const std::int64_t blocks = (rows + kSumBlock - 1) / kSumBlock;
  if (blocks == 0) {  // no rows: the sums are 0
    if (!accumulate)
      DIFFUSER_CUDA_CHECK(
          cudaMemsetAsync(out, 0, static_cast<std::size_t>(cols) * sizeof(float), current_stream()));
    return;
  }
  const std::int64_t tiles = (cols + kThreads - 1) / kThreads;
  DIFFUSER_CHECK(blocks < (std::int64_t{1} << 31) && tiles <= 65535, "column sums: a (", rows, ", ", cols,
                 ") matrix is too large for one launch");
  Buffer<float> partial(blocks * cols, Device::cuda);
  column_partial_kernel<<<dim3(static_cast<unsigned>(blocks), static_cast<unsigned>(tiles)), kThreads, 0,
                          current_stream()>>>(a.data, b, rows, cols, partial.data());
  DIFFUSER_CUDA_LAUNCHED("column_partial_kernel");
  column_finish_kernel<<<blocks_for(cols, kThreads), kThreads, 0, current_stream()>>>(partial.data(), blocks,
                                                                                      cols, out, accumulate);
  DIFFUSER_CUDA_LAUNCHED("column_finish_kernel");
}

}  // namespace

void bias_add(MatrixView<float> y, const float* bias) {
  const std::int64_t n = y.rows * y.cols;
  bias_add_kernel<<<flat_blocks(n), kThreads, 0, current_stream()>>>(y.data, bias, n, y.cols);
  DIFFUSER_CUDA_LAUNCHED("bias_add_kernel");
}

void axpby(float a, const float* x, float b, const float* y, float* out, std::int64_t n) {
  axpby_kernel<<<flat_blocks(n), kThreads, 0, current_stream()>>>(a, x, b, y, out, n);
  DIFFUSER_CUDA_LAUNCHED("axpby_kernel");
}

void gelu_forward(MatrixView<const float> x, MatrixView<float> y) {
  const std::int64_t n = x.rows * x.cols;
  gelu_kernel<<<flat_blocks(n), kThreads, 0, current_stream()>>>(x.data, y.data, n);
  DIFFUSER_CUDA_LAUNCHED("gelu_kernel");
}

void gelu_backward(MatrixView<const float> x, MatrixView<const float> dy, MatrixView<float> dx) {
  const std::int64_t n = x.rows * x.cols;
  gelu_backward_kernel<<<flat_blocks(n), kThreads, 0, current_stream()>>>(x.data, dy.data, dx.data, n);
  DIFFUSER_CUDA_LAUNCHED("gelu_backward_kernel");
}

void tanh_forward(MatrixView<const float> x, MatrixView<float> y) {
  const std::int64_t n = x.rows * x.cols;
  tanh_kernel<<<flat_blocks(n), kThreads, 0, current_stream()>>>(x.data, y.data, n);
  DIFFUSER_CUDA_LAUNCHED("tanh_kernel");
}

void tanh_backward(MatrixView<const float> y, MatrixView<const float> dy, MatrixView<float> dx) {
  const std::int64_t n = y.rows * y.cols;
  tanh_backward_kernel<<<flat_blocks(n), kThreads, 0, current_stream()>>>(y.data, dy.data, dx.data, n);
  DIFFUSER_CUDA_LAUNCHED("tanh_backward_kernel");
}

void column_sums(MatrixView<const float> x, float* out, bool accumulate) {
  column_reduce(x, nullptr, out, accumulate);
}

void column_dot(MatrixView<const float> a, MatrixView<const float> b, float* out, bool accumulate) {
  column_reduce(a, b.data, out, accumulate);
}

}  // namespace diffuser::cuda::dense
