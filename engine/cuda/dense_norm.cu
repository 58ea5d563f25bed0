// LayerNorm on the GPU: one warp per row, lanes across the row's values (each lane always touches
// the same columns, so y may be x itself); the row statistics accumulate in double, as on the CPU.
#include "common.cuh"
#include "dense_backend.hpp"

namespace diffuser::cuda::dense {

namespace {

constexpr int kWarps = 8;  // rows per block
constexpr int kThreads = kWarps * 32;

__device__ inline double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

unsigned row_blocks(std::int64_t rows) {
  const std::int64_t b = (rows + kWarps - 1) / kWarps;
  DIFFUSER_CHECK(b < (std::int64_t{1} << 31), "layer_norm: ", rows, " rows are too many for one launch");
  return static_cast<unsigned>(b < 1 ? 1 : b);
}

__global__ void layer_norm_kernel(const float* x, const float* __restrict__ gamma,
                                  const float* __restrict__ beta, float eps, std::int64_t rows,
                                  std::int64_t n, float* y, float* xhat, float* rstd) {
  const std::int64_t i = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (i >= rows) return;  // whole warps leave together
  const float* a = x + i * n;
  double s = 0.0;
  for (std::int64_t c = lane; c < n; c += 32) s += a[c];
  const double mean = warp_sum(s) / static_cast<double>(n);
  double v = 0.0;
  for (std::int64_t c = lane; c < n; c += 32) {
    const double t = a[c] - mean;
    v += t * t;
  }
  const double var = warp_sum(v) / static_cast<double>(n);
  const float r = static_cast<float>(1.0 / sqrt(var + static_cast<double>(eps)));
  const float m = static_cast<float>(mean);
  float* o = y + i * n;
  float* xh = xhat ? xhat + i * n : nullptr;
  for (std::int64_t c = lane; c < n; c += 32) {
    const float h = (a[c] - m) * r;
    if (xh) xh[c] = h;
    o[c] = gamma[c] * h + beta[c];
  }
  if (rstd && lane == 0) rstd[i] = r;
}

__global__ void layer_norm_backward_kernel(const float* __restrict__ xhat, const float* __restrict__ rstd,
                                           const float* __restrict__ gamma, const float* __restrict__ dy,
                                           std::int64_t rows, std::int64_t n, float* __restrict__ dx,
                                           bool accumulate) {
  const std::int64_t i = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (i >= rows) return;
  const float* h = xhat + i * n;
  const float* g = dy + i * n;
  double s1 = 0.0, s2 = 0.0;
  for (std::int64_t c = lane; c < n; c += 32) {
    const double gg = static_cast<double>(g[c]) * gamma[c];
    s1 += gg;
    s2 += gg * h[c];
  }
  s1 = warp_sum(s1);
  s2 = warp_sum(s2);
  const double inv_n = 1.0 / static_cast<double>(n);
  const float m1 = static_cast<float>(s1 * inv_n), m2 = static_cast<float>(s2 * inv_n);
  const float r = rstd[i];
  float* o = dx + i * n;
  for (std::int64_t c = lane; c < n; c += 32) {
    const float v = r * (g[c] * gamma[c] - m1 - h[c] * m2);
    o[c] = accumulate ? o[c] + v : v;
  }
}

__global__ void layer_norm_apply_kernel(const float* xhat, const float* __restrict__ gamma,
                                        const float* __restrict__ beta, std::int64_t total, std::int64_t n,
                                        float* y) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t f = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; f < total;
       f += stride) {
    const std::int64_t c = f % n;
    y[f] = gamma[c] * xhat[f] + beta[c];
  }
}

}  // namespace

void layer_norm_forward(MatrixView<const float> x, const float* gamma, const float* beta, float eps,
                        MatrixView<float> y, float* xhat, float* rstd) {
  layer_norm_kernel<<<row_blocks(x.rows), kThreads, 0, current_stream()>>>(x.data, gamma, beta, eps, x.rows,
                                                                           x.cols, y.data, xhat, rstd);
  DIFFUSER_CUDA_LAUNCHED("layer_norm_kernel");
}

void layer_norm_backward(MatrixView<const float> xhat, const float* rstd, const float* gamma,
                         MatrixView<const float> dy, MatrixView<float> dx, bool accumulate_dx) {
  layer_norm_backward_kernel<<<row_blocks(xhat.rows), kThreads, 0, current_stream()>>>(
      xhat.data, rstd, gamma, dy.data, xhat.rows, xhat.cols, dx.data, accumulate_dx);
  DIFFUSER_CUDA_LAUNCHED("layer_norm_backward_kernel");
}

void layer_norm_apply(MatrixView<const float> xhat, const float* gamma, const float* beta,
                      MatrixView<float> y) {
  const std::int64_t total = xhat.rows * xhat.cols;
  const std::int64_t b = (total + 255) / 256;
  layer_norm_apply_kernel<<<static_cast<unsigned>(b < (1 << 20) ? (b < 1 ? 1 : b) : (1 << 20)), 256, 0,
                            current_stream()>>>(xhat.data, gamma, beta, total, xhat.cols, y.data);
  DIFFUSER_CUDA_LAUNCHED("layer_norm_apply_kernel");
}

}  // namespace diffuser::cuda::dense
