// Dense per-token operations on the CPU: products through OpenBLAS (or the blocked loop), bias,
// GELU, tanh, sums. Elementwise loops run over TBB row ranges; reductions use fixed row blocks.
#include <cmath>
#include <vector>

#include <cblas.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <diffuser/attention/dense.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/threads.hpp>

namespace diffuser::attention::dense {

namespace {

GemmBackend g_backend = GemmBackend::blas;

// OpenBLAS keeps its own thread pool: size it to the engine's thread count (ThreadLimit) once per change.
void sync_blas_threads() {
  static int current = -1;
  const int want = active_threads();
  if (want != current) {
    openblas_set_num_threads(want);
    current = want;
  }
}

template <class F>
void for_rows(std::int64_t n, F&& f) {
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, 16), [&](const auto& r) {
    for (auto i = r.begin(); i < r.end(); ++i) f(i);
  });
}

void check_same(const char* op, std::int64_t r1, std::int64_t c1, std::int64_t r2, std::int64_t c2) {
  DIFFUSER_CHECK(r1 == r2 && c1 == c2, op, ": shapes differ: (", r1, ", ", c1, ") and (", r2, ", ", c2, ")");
}

constexpr std::int64_t kSumBlock = 128;

// Partial sums of fixed row blocks in parallel, then the blocks added in order.
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

}  // namespace

void set_gemm_backend(GemmBackend b) {
  g_backend = b;
}
GemmBackend gemm_backend() {
  return g_backend;
}
const char* gemm_backend_name(GemmBackend b) {
  return b == GemmBackend::blas ? "openblas" : "blocked";
}

void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
          std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (g_backend == GemmBackend::blocked)
    return gemm_blocked(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  DIFFUSER_CHECK(m < (1ll << 31) && n < (1ll << 31) && k < (1ll << 31),
                 "gemm: dimension too large for BLAS: (", m, ", ", n, ", ", k, ")");
  sync_blas_threads();
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda),
              b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

void linear_forward(MatrixView<const float> x, MatrixView<const float> w, const float* bias,
                    MatrixView<float> y) {
  DIFFUSER_CHECK(x.cols == w.cols && y.rows == x.rows && y.cols == w.rows, "linear: x (", x.rows, ", ",
                 x.cols, "), weight (", w.rows, ", ", w.cols, ") and y (", y.rows, ", ", y.cols,
                 ") do not fit");
  if (bias) {
    for_rows(y.rows, [&](std::int64_t i) {
      float* r = y.row(i);
      for (std::int64_t c = 0; c < y.cols; ++c) r[c] = bias[c];
    });
  }
  gemm(false, true, x.rows, w.rows, x.cols, 1.0f, x.data, x.cols, w.data, w.cols, bias ? 1.0f : 0.0f, y.data,
       y.cols);
}

void linear_backward(MatrixView<const float> x, MatrixView<const float> w, MatrixView<const float> dy,
                     MatrixView<float> dx, bool accumulate_dx, MatrixView<float> dw, float* dbias) {
  DIFFUSER_CHECK(dy.rows == x.rows && dy.cols == w.rows && x.cols == w.cols, "linear backward: x (", x.rows,
                 ", ", x.cols, "), weight (", w.rows, ", ", w.cols, ") and dy (", dy.rows, ", ", dy.cols,
                 ") do not fit");
  if (dx.data) {
    check_same("linear backward dx", dx.rows, dx.cols, x.rows, x.cols);
    gemm(false, false, dy.rows, w.cols, dy.cols, 1.0f, dy.data, dy.cols, w.data, w.cols,
         accumulate_dx ? 1.0f : 0.0f, dx.data, dx.cols);
  }
  if (dw.data) {
    check_same("linear backward dw", dw.rows, dw.cols, w.rows, w.cols);
    gemm(true, false, dy.cols, x.cols, dy.rows, 1.0f, dy.data, dy.cols, x.data, x.cols, 1.0f, dw.data,
         dw.cols);
  }
  if (dbias) column_sums(dy, dbias, true);
}

void gelu_forward(MatrixView<const float> x, MatrixView<float> y) {
  check_same("gelu", x.rows, x.cols, y.rows, y.cols);
  for_rows(x.rows, [&](std::int64_t i) {
    const float* a = x.row(i);
    float* o = y.row(i);
    for (std::int64_t c = 0; c < x.cols; ++c)
      o[c] = 0.5f * a[c] * (1.0f + std::erf(a[c] * 0.70710678118654752f));
  });
}

void gelu_backward(MatrixView<const float> x, MatrixView<const float> dy, MatrixView<float> dx) {
  check_same("gelu backward", x.rows, x.cols, dy.rows, dy.cols);
  check_same("gelu backward", x.rows, x.cols, dx.rows, dx.cols);
  for_rows(x.rows, [&](std::int64_t i) {
    const float* a = x.row(i);
    const float* g = dy.row(i);
    float* o = dx.row(i);
    for (std::int64_t c = 0; c < x.cols; ++c) {
      const float cdf = 0.5f * (1.0f + std::erf(a[c] * 0.70710678118654752f));
      const float pdf = 0.39894228040143268f * std::exp(-0.5f * a[c] * a[c]);
      o[c] = g[c] * (cdf + a[c] * pdf);
    }
  });
}

void tanh_forward(MatrixView<const float> x, MatrixView<float> y) {
  check_same("tanh", x.rows, x.cols, y.rows, y.cols);
  for_rows(x.rows, [&](std::int64_t i) {
    for (std::int64_t c = 0; c < x.cols; ++c) y.row(i)[c] = std::tanh(x.row(i)[c]);
  });
}

void tanh_backward(MatrixView<const float> y, MatrixView<const float> dy, MatrixView<float> dx) {
  check_same("tanh backward", y.rows, y.cols, dy.rows, dy.cols);
  for_rows(y.rows, [&](std::int64_t i) {
    for (std::int64_t c = 0; c < y.cols; ++c)
      dx.row(i)[c] = dy.row(i)[c] * (1.0f - y.row(i)[c] * y.row(i)[c]);
  });
}

void add(MatrixView<const float> a, MatrixView<float> out) {
  check_same("add", a.rows, a.cols, out.rows, out.cols);
  for_rows(a.rows, [&](std::int64_t i) {
    for (std::int64_t c = 0; c < a.cols; ++c) out.row(i)[c] += a.row(i)[c];
  });
}

void add(MatrixView<const float> a, MatrixView<const float> b, MatrixView<float> out) {
  check_same("add", a.rows, a.cols, out.rows, out.cols);
  check_same("add", b.rows, b.cols, out.rows, out.cols);
  for_rows(a.rows, [&](std::int64_t i) {
    for (std::int64_t c = 0; c < a.cols; ++c) out.row(i)[c] = a.row(i)[c] + b.row(i)[c];
  });
}

void copy(MatrixView<const float> a, MatrixView<float> out) {
  check_same("copy", a.rows, a.cols, out.rows, out.cols);
  for_rows(a.rows, [&](std::int64_t i) {
    for (std::int64_t c = 0; c < a.cols; ++c) out.row(i)[c] = a.row(i)[c];
  });
}

void column_sums(MatrixView<const float> x, float* out, bool accumulate) {
  fixed_order_column_sums(x.rows, x.cols, out, accumulate, [&](std::int64_t i, float* p) {
    const float* r = x.row(i);
    for (std::int64_t c = 0; c < x.cols; ++c) p[c] += r[c];
  });
}

void column_dot(MatrixView<const float> a, MatrixView<const float> b, float* out, bool accumulate) {
  check_same("column_dot", a.rows, a.cols, b.rows, b.cols);
  fixed_order_column_sums(a.rows, a.cols, out, accumulate, [&](std::int64_t i, float* p) {
    const float* ra = a.row(i);
    const float* rb = b.row(i);
    for (std::int64_t c = 0; c < a.cols; ++c) p[c] += ra[c] * rb[c];
  });
}

}  // namespace diffuser::attention::dense
