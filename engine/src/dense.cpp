// Argument checks for every dense primitive (shapes, devices, overlaps), then dispatch to the
// backend the operands live on; every message names the primitive and the operand.
#include <atomic>
#include <cstdint>
#include <string>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/dense.hpp>
#include <diffuser/engine/error.hpp>

#include "../cpu/blas.hpp"
#include "../cpu/dispatch.hpp"
#include "../cuda/dense_backend.hpp"

namespace diffuser::dense {

namespace {

template <class T>
std::string shape_of(const MatrixView<T>& m) {
  return cat("(", m.rows, ", ", m.cols, ")");
}

template <class T>
void check_matrix(const char* op, const MatrixView<T>& m, const char* what) {
  DIFFUSER_CHECK(m.rows >= 0 && m.cols >= 0, op, ": ", what, " has a negative shape ", shape_of(m));
  DIFFUSER_CHECK(m.rows * m.cols == 0 || m.data != nullptr, op, ": ", what, " ", shape_of(m), " has no data");
}

void check_device(const char* op, Device expected, Device got, const char* what, const char* first) {
  DIFFUSER_CHECK(expected == got, op, ": ", what, " is on ", device_name(got), " but ", first, " is on ",
                 device_name(expected));
}

template <class A, class B>
void check_same_shape(const char* op, const MatrixView<A>& a, const MatrixView<B>& b, const char* wa,
                      const char* wb) {
  DIFFUSER_CHECK(a.rows == b.rows && a.cols == b.cols, op, ": ", wa, " ", shape_of(a), " and ", wb, " ",
                 shape_of(b), " differ in shape");
  check_device(op, a.device, b.device, wb, wa);
}

// A vector of `n` values on `d` (or empty when `optional`).
template <class T>
void check_vector(const char* op, const Span<T>& v, std::int64_t n, Device d, const char* what,
                  const char* of, bool optional = false) {
  if (optional && v.size == 0) return;
  DIFFUSER_CHECK(v.size == n, op, ": ", what, " has ", v.size, " values but ", of, " needs ", n);
  DIFFUSER_CHECK(n == 0 || v.data != nullptr, op, ": ", what, " has no data");
  check_device(op, d, v.device, what, "the matrix");
}

bool overlap_bytes(const void* a, std::int64_t na, const void* b, std::int64_t nb) {
  if (a == nullptr || b == nullptr || na <= 0 || nb <= 0) return false;
  const auto la = reinterpret_cast<std::uintptr_t>(a), lb = reinterpret_cast<std::uintptr_t>(b);
  return la < lb + static_cast<std::uintptr_t>(nb) && lb < la + static_cast<std::uintptr_t>(na);
}
template <class A, class B>
bool overlaps(const MatrixView<A>& a, const MatrixView<B>& b) {
  return overlap_bytes(a.data, a.rows * a.cols * 4, b.data, b.rows * b.cols * 4);
}
template <class A, class B>
bool same_or_disjoint(const MatrixView<A>& a, const MatrixView<B>& b) {
  return static_cast<const void*>(a.data) == static_cast<const void*>(b.data) || !overlaps(a, b);
}

constexpr std::int64_t kMaxDim = (std::int64_t{1} << 31) - 1;

}  // namespace

const char* gemm_name(Device d) {
  if (d == Device::cuda) return "cublas";
  return current_context().options().cpu.gemm == CpuGemm::blas ? "openblas" : "blocked";
}

void gemm(bool trans_a, bool trans_b, float alpha, MatrixView<const float> a, MatrixView<const float> b,
          float beta, MatrixView<float> c) {
  constexpr const char* op = "gemm";
  check_matrix(op, a, "A");
  check_matrix(op, b, "B");
  check_matrix(op, c, "C");
  check_device(op, a.device, b.device, "B", "A");
  check_device(op, a.device, c.device, "C", "A");
  const std::int64_t m = trans_a ? a.cols : a.rows, k = trans_a ? a.rows : a.cols;
  const std::int64_t kb = trans_b ? b.cols : b.rows, n = trans_b ? b.rows : b.cols;
  DIFFUSER_CHECK(k == kb && c.rows == m && c.cols == n, op, ": op(A) is (", m, ", ", k, ") and op(B) is (",
                 kb, ", ", n, ") (A ", shape_of(a), trans_a ? " transposed" : "", ", B ", shape_of(b),
                 trans_b ? " transposed" : "", ") but C is ", shape_of(c));
  DIFFUSER_CHECK(m <= kMaxDim && n <= kMaxDim && k <= kMaxDim, op, ": dimension too large for BLAS: (", m,
                 ", ", n, ", ", k, ")");
  DIFFUSER_CHECK(!overlaps(c, a) && !overlaps(c, b), op, ": C must not overlap A or B");
  if (m == 0 || n == 0) return;
  if (k == 0) {  // C = beta C (BLAS would reject the zero leading dimensions); beta = 0 ignores C
    const Span<float> cs = flat(c);
    if (beta == 0.0f)
      return device_memset_zero(cs.data, cs.device, static_cast<std::size_t>(cs.size) * sizeof(float));
    return axpby(beta, cs, 0.0f, {}, cs);
  }
  if (c.device == Device::cuda)
    return cuda::dense::gemm(trans_a, trans_b, m, n, k, alpha, a.data, a.cols, b.data, b.cols, beta, c.data,
                             c.cols);
  if (current_context().options().cpu.gemm == CpuGemm::blocked)
    return cpu::run([&]<class K>(const cpu::Tuning&) {
      K::gemm_blocked(trans_a, trans_b, m, n, k, alpha, a.data, a.cols, b.data, b.cols, beta, c.data, c.cols);
    });
  cpu::gemm_blas(current_context().cpu_threads(), trans_a, trans_b, m, n, k, alpha, a.data, a.cols, b.data,
                 b.cols, beta, c.data, c.cols);
}

void bias_add(MatrixView<float> y, Span<const float> bias) {
  constexpr const char* op = "bias_add";
  check_matrix(op, y, "y");
  check_vector(op, bias, y.cols, y.device, "the bias", "y's column count");
  if (y.rows * y.cols == 0) return;
  if (y.device == Device::cuda) return cuda::dense::bias_add(y, bias.data);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::bias_add(y, bias.data); });
}

void column_sums(MatrixView<const float> x, Span<float> out, bool accumulate) {
  constexpr const char* op = "column_sums";
  check_matrix(op, x, "x");
  check_vector(op, out, x.cols, x.device, "out", "x's column count");
  DIFFUSER_CHECK(!overlap_bytes(x.data, x.rows * x.cols * 4, out.data, out.size * 4), op,
                 ": out must not overlap x");
  if (x.cols == 0) return;
  if (x.device == Device::cuda) return cuda::dense::column_sums(x, out.data, accumulate);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::column_sums(x, out.data, accumulate); });
}

void column_dot(MatrixView<const float> a, MatrixView<const float> b, Span<float> out, bool accumulate) {
  constexpr const char* op = "column_dot";
  check_matrix(op, a, "a");
  check_matrix(op, b, "b");
  check_same_shape(op, a, b, "a", "b");
  check_vector(op, out, a.cols, a.device, "out", "a's column count");
  DIFFUSER_CHECK(!overlap_bytes(a.data, a.rows * a.cols * 4, out.data, out.size * 4) &&
                     !overlap_bytes(b.data, b.rows * b.cols * 4, out.data, out.size * 4),
                 op, ": out must not overlap a or b");
  if (a.cols == 0) return;
  if (a.device == Device::cuda) return cuda::dense::column_dot(a, b, out.data, accumulate);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::column_dot(a, b, out.data, accumulate); });
}

void layer_norm_forward(MatrixView<const float> x, Span<const float> gamma, Span<const float> beta, float eps,
                        MatrixView<float> y, MatrixView<float> xhat, Span<float> rstd) {
  constexpr const char* op = "layer_norm";
  check_matrix(op, x, "x");
  check_matrix(op, y, "y");
  check_same_shape(op, x, y, "x", "y");
  DIFFUSER_CHECK(x.cols > 0 || x.rows == 0, op, ": x ", shape_of(x), " has rows of no values");
  DIFFUSER_CHECK(eps >= 0.0f, op, ": eps must be >= 0, got ", eps);
  check_vector(op, gamma, x.cols, x.device, "gamma", "x's column count");
  check_vector(op, beta, x.cols, x.device, "beta", "x's column count");
  if (xhat.data) {
    check_matrix(op, xhat, "xhat");
    check_same_shape(op, x, xhat, "x", "xhat");
    DIFFUSER_CHECK(!overlaps(xhat, y) && same_or_disjoint(xhat, x), op,
                   ": xhat must not overlap y, and must be x itself or not overlap it");
  }
  check_vector(op, rstd, x.rows, x.device, "rstd", "x's row count", true);
  DIFFUSER_CHECK(same_or_disjoint(x, y), op, ": y must be x itself or not overlap it");
  if (x.rows == 0) return;
  if (x.device == Device::cuda)
    return cuda::dense::layer_norm_forward(x, gamma.data, beta.data, eps, y, xhat.data, rstd.data);
  cpu::run([&]<class K>(const cpu::Tuning&) {
    K::layer_norm_forward(x, gamma.data, beta.data, eps, y, xhat.data, rstd.data);
  });
}

void layer_norm_backward(MatrixView<const float> xhat, Span<const float> rstd, Span<const float> gamma,
                         MatrixView<const float> dy, MatrixView<float> dx, bool accumulate_dx,
                         Span<float> dgamma, Span<float> dbeta) {
  constexpr const char* op = "layer_norm backward";
  check_matrix(op, xhat, "xhat");
  check_matrix(op, dy, "dy");
  check_matrix(op, dx, "dx");
  check_same_shape(op, xhat, dy, "xhat", "dy");
  check_same_shape(op, xhat, dx, "xhat", "dx");
  check_vector(op, rstd, xhat.rows, xhat.device, "rstd", "xhat's row count");
  check_vector(op, gamma, xhat.cols, xhat.device, "gamma", "xhat's column count");
  check_vector(op, dgamma, xhat.cols, xhat.device, "dgamma", "xhat's column count", true);
  check_vector(op, dbeta, xhat.cols, xhat.device, "dbeta", "xhat's column count", true);
  DIFFUSER_CHECK(!overlaps(dx, xhat) && !overlaps(dx, dy), op, ": dx must not overlap xhat or dy");
  if (xhat.rows * xhat.cols == 0) return;
  if (dgamma.size) column_dot(dy, xhat, dgamma, true);
  if (dbeta.size) column_sums(dy, dbeta, true);
  if (xhat.device == Device::cuda)
    return cuda::dense::layer_norm_backward(xhat, rstd.data, gamma.data, dy, dx, accumulate_dx);
  cpu::run([&]<class K>(const cpu::Tuning&) {
    K::layer_norm_backward(xhat, rstd.data, gamma.data, dy, dx, accumulate_dx);
  });
}

void layer_norm_apply(MatrixView<const float> xhat, Span<const float> gamma, Span<const float> beta,
                      MatrixView<float> y) {
  constexpr const char* op = "layer_norm_apply";
  check_matrix(op, xhat, "xhat");
  check_matrix(op, y, "y");
  check_same_shape(op, xhat, y, "xhat", "y");
  check_vector(op, gamma, xhat.cols, xhat.device, "gamma", "xhat's column count");
  check_vector(op, beta, xhat.cols, xhat.device, "beta", "xhat's column count");
  DIFFUSER_CHECK(same_or_disjoint(xhat, y), op, ": y must be xhat itself or not overlap it");
  if (xhat.rows * xhat.cols == 0) return;
  if (xhat.device == Device::cuda) return cuda::dense::layer_norm_apply(xhat, gamma.data, beta.data, y);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::layer_norm_apply(xhat, gamma.data, beta.data, y); });
}

namespace {

// Elementwise unary forms: same shape and device, out the input itself or apart from it.
void check_unary(const char* op, const MatrixView<const float>& x, const MatrixView<float>& y, const char* wx,
                 const char* wy) {
  check_matrix(op, x, wx);
  check_matrix(op, y, wy);
  check_same_shape(op, x, y, wx, wy);
  DIFFUSER_CHECK(same_or_disjoint(x, y), op, ": ", wy, " must be ", wx, " itself or not overlap it");
}

}  // namespace

void gelu_forward(MatrixView<const float> x, MatrixView<float> y) {
  check_unary("gelu", x, y, "x", "y");
  if (x.rows * x.cols == 0) return;
  if (x.device == Device::cuda) return cuda::dense::gelu_forward(x, y);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::gelu_forward(x, y); });
}

void gelu_backward(MatrixView<const float> x, MatrixView<const float> dy, MatrixView<float> dx) {
  constexpr const char* op = "gelu backward";
  check_unary(op, dy, dx, "dy", "dx");
  check_matrix(op, x, "x");
  check_same_shape(op, x, dy, "x", "dy");
  DIFFUSER_CHECK(!overlaps(x, dx), op, ": dx must not overlap x");
  if (x.rows * x.cols == 0) return;
  if (x.device == Device::cuda) return cuda::dense::gelu_backward(x, dy, dx);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::gelu_backward(x, dy, dx); });
}

void tanh_forward(MatrixView<const float> x, MatrixView<float> y) {
  check_unary("tanh", x, y, "x", "y");
  if (x.rows * x.cols == 0) return;
  if (x.device == Device::cuda) return cuda::dense::tanh_forward(x, y);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::tanh_forward(x, y); });
}

void tanh_backward(MatrixView<const float> y, MatrixView<const float> dy, MatrixView<float> dx) {
  constexpr const char* op = "tanh backward";
  check_unary(op, dy, dx, "dy", "dx");
  check_matrix(op, y, "y");
  check_same_shape(op, y, dy, "y", "dy");
  DIFFUSER_CHECK(!overlaps(y, dx), op, ": dx must not overlap y");
  if (y.rows * y.cols == 0) return;
  if (y.device == Device::cuda) return cuda::dense::tanh_backward(y, dy, dx);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::tanh_backward(y, dy, dx); });
}

void axpby(float a, Span<const float> x, float b, Span<const float> y, Span<float> out) {
  constexpr const char* op = "axpby";
  DIFFUSER_CHECK(x.size == out.size, op, ": x has ", x.size, " values but out has ", out.size);
  DIFFUSER_CHECK(out.size == 0 || (x.data != nullptr && out.data != nullptr), op, ": x or out has no data");
  check_device(op, out.device, x.device, "x", "out");
  auto apart = [](const void* p, const void* q, std::int64_t n) {
    return p == q || !overlap_bytes(p, n * 4, q, n * 4);
  };
  DIFFUSER_CHECK(apart(x.data, out.data, out.size), op, ": out must be x itself or not overlap it");
  if (b != 0.0f) {
    DIFFUSER_CHECK(y.size == out.size, op, ": y has ", y.size, " values but out has ", out.size);
    DIFFUSER_CHECK(out.size == 0 || y.data != nullptr, op, ": y has no data");
    check_device(op, out.device, y.device, "y", "out");
    DIFFUSER_CHECK(apart(y.data, out.data, out.size), op, ": out must be y itself or not overlap it");
  }
  if (out.size == 0) return;
  if (out.device == Device::cuda)
    return cuda::dense::axpby(a, x.data, b, b != 0.0f ? y.data : nullptr, out.data, out.size);
  cpu::run([&]<class K>(const cpu::Tuning&) {
    K::axpby(a, x.data, b, b != 0.0f ? y.data : nullptr, out.data, out.size);
  });
}

void add(MatrixView<const float> a, MatrixView<float> out) {
  check_same_shape("add", a, out, "a", "out");
  axpby(1.0f, flat(a), 1.0f, flat(MatrixView<const float>(out)), flat(out));
}

void add(MatrixView<const float> a, MatrixView<const float> b, MatrixView<float> out) {
  check_same_shape("add", a, out, "a", "out");
  check_same_shape("add", b, out, "b", "out");
  axpby(1.0f, flat(a), 1.0f, flat(b), flat(out));
}

void copy(MatrixView<const float> a, MatrixView<float> out) {
  constexpr const char* op = "copy";
  check_matrix(op, a, "a");
  check_matrix(op, out, "out");
  check_same_shape(op, a, out, "a", "out");
  if (a.data == out.data) return;
  DIFFUSER_CHECK(!overlaps(a, out), op, ": out must not overlap a");
  device_copy(out.data, out.device, a.data, a.device,
              static_cast<std::size_t>(a.rows * a.cols) * sizeof(float));
}

}  // namespace diffuser::dense
