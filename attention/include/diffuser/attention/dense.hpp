// Dense per-token operations of the encoder layer on the CPU, forward and backward: matrix
// products (OpenBLAS, or a blocked loop kept for comparison), bias, LayerNorm, GELU, column sums.
#pragma once

#include <cstdint>

#include <diffuser/engine/tensor.hpp>

namespace diffuser::attention::dense {

// Which matrix product the layer uses (process-wide; OpenBLAS unless a benchmark asks otherwise).
enum class GemmBackend { blas, blocked };
void set_gemm_backend(GemmBackend b);
GemmBackend gemm_backend();
const char* gemm_backend_name(GemmBackend b);

// C (m, n) = alpha * op(A) op(B) + beta * C, row-major; op(A) is (m, k), op(B) is (k, n).
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
          std::int64_t ldc);
// The blocked-loop product (TBB over row tiles, vectorised inner loop) behind GemmBackend::blocked.
void gemm_blocked(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                  const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                  std::int64_t ldc);

// y (T, out) = x (T, in) w^T + bias; w is (out, in) as in PyTorch's nn.Linear; bias may be null.
void linear_forward(MatrixView<const float> x, MatrixView<const float> w, const float* bias,
                    MatrixView<float> y);
// The backward of linear_forward: dx = dy w (written, or added when accumulate_dx; skipped when
// dx.data is null), dw += dy^T x, dbias += column sums of dy (skipped when null).
void linear_backward(MatrixView<const float> x, MatrixView<const float> w, MatrixView<const float> dy,
                     MatrixView<float> dx, bool accumulate_dx, MatrixView<float> dw, float* dbias);

// LayerNorm over each row: y = gamma * xhat + beta, xhat = (x - mean) * rstd, rstd = 1 / sqrt(var + eps)
// (biased variance, as torch). xhat and rstd are kept for the backward (either may be null).
void layer_norm_forward(MatrixView<const float> x, const float* gamma, const float* beta, float eps,
                        MatrixView<float> y, MatrixView<float> xhat, float* rstd);
// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * gamma (written or added);
// dgamma += sum_rows dy * xhat, dbeta += sum_rows dy.
void layer_norm_backward(MatrixView<const float> xhat, const float* rstd, const float* gamma,
                         MatrixView<const float> dy, MatrixView<float> dx, bool accumulate_dx, float* dgamma,
                         float* dbeta);
// y = gamma * xhat + beta (recomputing a LayerNorm output from what the backward keeps).
void layer_norm_apply(MatrixView<const float> xhat, const float* gamma, const float* beta,
                      MatrixView<float> y);

// GELU, erf form: y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)). y may alias x.
void gelu_forward(MatrixView<const float> x, MatrixView<float> y);
// dx = dy * (Phi(x) + x * phi(x)). dx may alias dy.
void gelu_backward(MatrixView<const float> x, MatrixView<const float> dy, MatrixView<float> dx);
// y = tanh(x) and its backward dx = dy * (1 - y^2) (the classification head).
void tanh_forward(MatrixView<const float> x, MatrixView<float> y);
void tanh_backward(MatrixView<const float> y, MatrixView<const float> dy, MatrixView<float> dx);

// out += a (same shape).
void add(MatrixView<const float> a, MatrixView<float> out);
// out = a + b.
void add(MatrixView<const float> a, MatrixView<const float> b, MatrixView<float> out);
void copy(MatrixView<const float> a, MatrixView<float> out);

// Column sums over the rows, in a fixed order (blocks of rows summed in block order), so the result
// does not depend on the thread count. Written, or added when accumulate.
void column_sums(MatrixView<const float> x, float* out, bool accumulate);
// sum_rows a * b per column (LayerNorm's dgamma), same order guarantees.
void column_dot(MatrixView<const float> a, MatrixView<const float> b, float* out, bool accumulate);

// A view of rows [r0, r1) of a matrix.
template <class T>
MatrixView<T> rows(MatrixView<T> m, std::int64_t r0, std::int64_t r1) {
  return {m.data + r0 * m.cols, r1 - r0, m.cols, m.device};
}
// A (T, cols) matrix seen as (T, heads, cols / heads) node features.
template <class T>
Tensor3View<T> as_heads(MatrixView<T> m, std::int64_t heads) {
  return {m.data, m.rows, heads, m.cols / heads, m.cols, m.cols / heads, m.device};
}

}  // namespace diffuser::attention::dense
