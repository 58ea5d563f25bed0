// The CPU backend's dense primitives (dense.hpp): OpenBLAS or a blocked loop for the products, TBB
// over row ranges for the rest. dense.cpp has checked every argument before calling them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <diffuser/engine/tensor.hpp>

namespace diffuser::cpu::dense {

void gemm_blas(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
               const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
               std::int64_t ldc);
void gemm_blocked(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                  const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                  std::int64_t ldc);

void bias_add(MatrixView<float> y, const float* bias);
void column_sums(MatrixView<const float> x, float* out, bool accumulate);
void column_dot(MatrixView<const float> a, MatrixView<const float> b, float* out, bool accumulate);
void layer_norm_forward(MatrixView<const float> x, const float* gamma, const float* beta, float eps,
                        MatrixView<float> y, float* xhat, float* rstd);
void layer_norm_backward(MatrixView<const float> xhat, const float* rstd, const float* gamma,
                         MatrixView<const float> dy, MatrixView<float> dx, bool accumulate_dx);
void layer_norm_apply(MatrixView<const float> xhat, const float* gamma, const float* beta,
                      MatrixView<float> y);
void gelu_forward(MatrixView<const float> x, MatrixView<float> y);
void gelu_backward(MatrixView<const float> x, MatrixView<const float> dy, MatrixView<float> dx);
void tanh_forward(MatrixView<const float> x, MatrixView<float> y);
void tanh_backward(MatrixView<const float> y, MatrixView<const float> dy, MatrixView<float> dx);
void axpby(float a, const float* x, float b, const float* y, float* out, std::int64_t n);

// Rows of a matrix in parallel (grain 16 rows).
template <class F>
void for_rows(std::int64_t n, F&& f) {
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, 16), [&](const auto& r) {
    for (auto i = r.begin(); i < r.end(); ++i) f(i);
  });
}

// Rows per block of the fixed-order column sums (the CUDA kernels use the same blocks).
inline constexpr std::int64_t kSumBlock = 128;

// Partial sums of fixed row blocks in parallel (each block's rows in order), then the blocks added in
// order: the result does not depend on the thread count. row_value(i, partial) adds row i.
template <class F>
void fixed_order_column_sums(std::int64_t rows, std::int64_t cols, float* out, bool accumulate,
                             F&& row_value) {
  const std::int64_t nb = (rows + kSumBlock - 1) / kSumBlock;
  std::vector<float> partial(static_cast<std::size_t>(nb * cols), 0.0f);
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, nb, 1), [&](const auto& r) {
    for (auto b = r.begin(); b < r.end(); ++b) {
      float* p = partial.data() + b * cols;
      const std::int64_t r1 = std::min(rows, (b + 1) * kSumBlock);
      for (std::int64_t i = b * kSumBlock; i < r1; ++i) row_value(i, p);
    }
  });
  for (std::int64_t c = 0; c < cols; ++c) {
    float s = 0.0f;
    for (std::int64_t b = 0; b < nb; ++b) s += partial[static_cast<std::size_t>(b * cols + c)];
    out[c] = accumulate ? out[c] + s : s;
  }
}

}  // namespace diffuser::cpu::dense
