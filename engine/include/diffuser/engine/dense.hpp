// Dense per-token primitives of the Transformer layer: matrix products, bias, LayerNorm, GELU, tanh,
// column sums and elementwise sums, on the device the operands live on (CPU: OpenBLAS and TBB; CUDA:
// cuBLAS and small kernels). Each checks shapes and devices first, like ops.hpp.
#pragma once

#include <cstdint>

#include <diffuser/engine/context.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/engine/tensor.hpp>

namespace diffuser::dense {

// Matrices are row-major and contiguous: MatrixView (rows, cols), leading dimension = cols. Vectors
// (bias, gamma, beta, per-row statistics) are Spans. Every operand of one call lives on one device.
//
// Determinism: the same call on the same device gives the same bits whatever the thread count.
// Reductions over rows (column sums: the bias, gamma and beta gradients) add fixed blocks of 128
// rows in row order and then the blocks in block order, on both backends (no atomics), so the
// CPU and CUDA column sums of the same input agree to the last bit unless the compiler contracts
// a product into an FMA on one side (column_dot).

// "openblas", "blocked" or "cublas": what gemm() uses on `d` in the current context (the CPU's
// choice is CpuOptions::gemm).
const char* gemm_name(Device d);

// C (m, n) = alpha * op(A) op(B) + beta * C, with op(A) (m, k) and op(B) (k, n): A is (m, k), or
// (k, m) when trans_a; B is (k, n), or (n, k) when trans_b. beta == 0 ignores C's old values
// (NaN included). C must not overlap A or B. Each dimension must be below 2^31.
void gemm(bool trans_a, bool trans_b, float alpha, MatrixView<const float> a, MatrixView<const float> b,
          float beta, MatrixView<float> c);

// y[i, :] += bias for every row i (bias: cols values).
void bias_add(MatrixView<float> y, Span<const float> bias);

// out[c] = sum over rows of x[:, c] (written, or added when accumulate); out: cols values.
void column_sums(MatrixView<const float> x, Span<float> out, bool accumulate);
// out[c] = sum over rows of a[:, c] * b[:, c] (LayerNorm's dgamma); same order guarantees.
void column_dot(MatrixView<const float> a, MatrixView<const float> b, Span<float> out, bool accumulate);

// LayerNorm over each row (biased variance, as torch; statistics accumulated in double):
// xhat = (x - mean) * rstd, rstd = 1 / sqrt(var + eps), y = gamma * xhat + beta. xhat (rows, cols)
// and rstd (rows) are written for the backward unless empty. y may be x itself.
void layer_norm_forward(MatrixView<const float> x, Span<const float> gamma, Span<const float> beta, float eps,
                        MatrixView<float> y, MatrixView<float> xhat, Span<float> rstd);
// With g = dy * gamma: dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) (written, or added when
// accumulate_dx); dgamma += sum_rows dy * xhat, dbeta += sum_rows dy (each skipped when empty).
// dx must not overlap xhat or dy.
void layer_norm_backward(MatrixView<const float> xhat, Span<const float> rstd, Span<const float> gamma,
                         MatrixView<const float> dy, MatrixView<float> dx, bool accumulate_dx,
                         Span<float> dgamma, Span<float> dbeta);
// y = gamma * xhat + beta (a LayerNorm output recomputed from what the backward keeps).
void layer_norm_apply(MatrixView<const float> xhat, Span<const float> gamma, Span<const float> beta,
                      MatrixView<float> y);

// GELU, erf form: y = 0.5 x (1 + erf(x / sqrt 2)). y may be x itself.
void gelu_forward(MatrixView<const float> x, MatrixView<float> y);
// dx = dy * (Phi(x) + x phi(x)). dx may be dy itself.
void gelu_backward(MatrixView<const float> x, MatrixView<const float> dy, MatrixView<float> dx);
// y = tanh(x); its backward from the output: dx = dy * (1 - y^2). In place allowed.
void tanh_forward(MatrixView<const float> x, MatrixView<float> y);
void tanh_backward(MatrixView<const float> y, MatrixView<const float> dy, MatrixView<float> dx);

// out = a * x + b * y elementwise over flat spans of one length (y is not read when b == 0 and may
// then be empty). out may be x or y itself.
void axpby(float a, Span<const float> x, float b, Span<const float> y, Span<float> out);
// Matrix forms: out += a; out = a + b; out = a.
void add(MatrixView<const float> a, MatrixView<float> out);
void add(MatrixView<const float> a, MatrixView<const float> b, MatrixView<float> out);
void copy(MatrixView<const float> a, MatrixView<float> out);

// Rows [r0, r1) of a matrix, and a (T, cols) matrix seen as (T, heads, cols / heads) node features.
template <class T>
MatrixView<T> rows(MatrixView<T> m, std::int64_t r0, std::int64_t r1) {
  return {m.data + r0 * m.cols, r1 - r0, m.cols, m.device};
}
template <class T>
Tensor3View<T> as_heads(MatrixView<T> m, std::int64_t heads) {
  return {m.data, m.rows, heads, m.cols / heads, m.cols, m.cols / heads, m.device};
}
template <class T>
Span<T> flat(MatrixView<T> m) {
  return {m.data, m.rows * m.cols, m.device};
}

}  // namespace diffuser::dense
