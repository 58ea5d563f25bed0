// The CUDA backend's dense primitives (dense.hpp), declared without CUDA types so that every engine
// .cpp compiles without the toolkit. Implemented in engine/cuda/dense_*.cu, or by
// engine/src/no_cuda_dense.cpp in builds without CUDA; dense.cpp checks every argument first.
#pragma once

#include <cstdint>

#include <diffuser/engine/tensor.hpp>

namespace diffuser::cuda::dense {

// Row-major C (m, n) = alpha op(A) op(B) + beta C through cublasSgemm (FP32, no TF32), on the
// backend's stream; leading dimensions are the row-major ones.
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
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

}  // namespace diffuser::cuda::dense
