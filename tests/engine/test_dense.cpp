// The engine's dense primitives on the CPU (engine/dense.hpp) against plain float64 loops: products in
// every transpose combination, bias, column sums (fixed order: independent of the thread count),
// LayerNorm forward and backward, GELU, tanh, axpby; and the argument checks (shapes, devices,
// overlaps), which run before any backend and so are tested here for CUDA operands too.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include <diffuser/engine/dense.hpp>
#include <diffuser/engine/error.hpp>
#include "support/context.hpp"

#include "attention/attention_test_util.hpp"
#include "attention/grad_reference.hpp"

using namespace diffuser;
namespace g = diffuser::test::grad;
namespace ta = diffuser::test::attn;
using Catch::Contains;

namespace {

Matrix<float> random_matrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed, double scale = 1.0) {
  return ta::matrix_from(ta::random_values(static_cast<std::size_t>(rows * cols), seed, scale), rows, cols);
}

Buffer<float> random_vector(std::int64_t n, std::uint64_t seed, double scale = 1.0) {
  const auto v = ta::random_values(static_cast<std::size_t>(n), seed, scale);
  Buffer<float> b(n);
  for (std::int64_t i = 0; i < n; ++i) b[i] = static_cast<float>(v[static_cast<std::size_t>(i)]);
  return b;
}

double at(const Matrix<float>& m, std::int64_t r, std::int64_t c) {
  return m.buffer()[r * m.cols() + c];
}

// op(A)(i, p) of a row-major matrix.
double op_at(const Matrix<float>& m, bool trans, std::int64_t i, std::int64_t p) {
  return trans ? at(m, p, i) : at(m, i, p);
}

std::vector<double> gemm_reference(bool ta_, bool tb, double alpha, const Matrix<float>& a,
                                   const Matrix<float>& b, double beta, const Matrix<float>& c) {
  const std::int64_t m = c.rows(), n = c.cols(), k = ta_ ? a.rows() : a.cols();
  std::vector<double> out(static_cast<std::size_t>(m * n));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (std::int64_t p = 0; p < k; ++p) s += op_at(a, ta_, i, p) * op_at(b, tb, p, j);
      out[static_cast<std::size_t>(i * n + j)] = alpha * s + (beta != 0 ? beta * at(c, i, j) : 0.0);
    }
  return out;
}

}  // namespace

TEST_CASE("dense gemm: every transpose, alpha and beta, against float64", "[cpu][attention][dense]") {
  const auto gemm_kind = GENERATE(CpuGemm::blas, CpuGemm::blocked);
  ContextOptions o = current_context().options();
  o.cpu.gemm = gemm_kind;
  const Context ctx(o);
  ContextScope scope(ctx);
  CAPTURE(dense::gemm_name(Device::cpu));
  for (bool ta_ : {false, true})
    for (bool tb : {false, true}) {
      CAPTURE(ta_, tb);
      const std::int64_t m = 37, n = 53, k = 29;
      const Matrix<float> a = ta_ ? random_matrix(k, m, 1) : random_matrix(m, k, 1);
      const Matrix<float> b = tb ? random_matrix(n, k, 2) : random_matrix(k, n, 2);
      Matrix<float> c = random_matrix(m, n, 3);
      const auto ref = gemm_reference(ta_, tb, 0.7, a, b, 0.5, c);
      dense::gemm(ta_, tb, 0.7f, a.view(), b.view(), 0.5f, c.view());
      CHECK(g::rel(ta::to_vec(c), ref) <= 1e-6);
      // beta = 0 ignores C, NaN included.
      std::fill(c.buffer().begin(), c.buffer().end(), std::numeric_limits<float>::quiet_NaN());
      dense::gemm(ta_, tb, 1.0f, a.view(), b.view(), 0.0f, c.view());
      CHECK(g::rel(ta::to_vec(c), gemm_reference(ta_, tb, 1.0, a, b, 0.0, c)) <= 1e-6);
    }
  // k = 0: C = beta C.
  Matrix<float> a0(4, 0), b0(0, 5);
  Matrix<float> c0 = random_matrix(4, 5, 4);
  const auto before = ta::to_vec(c0);
  dense::gemm(false, false, 1.0f, a0.view(), b0.view(), 2.0f, c0.view());
  for (std::size_t i = 0; i < before.size(); ++i)
    CHECK(c0.buffer()[static_cast<std::int64_t>(i)] == 2 * before[i]);
}

TEST_CASE("dense bias, column sums and column dot: float64 reference, thread-count independent",
          "[cpu][attention][dense]") {
  const std::int64_t rows = 300, cols = 45;  // 3 row blocks, the last partial
  const Matrix<float> x = random_matrix(rows, cols, 5), y = random_matrix(rows, cols, 6);
  std::vector<double> sums(cols, 0), dots(cols, 0);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t c = 0; c < cols; ++c) {
      sums[static_cast<std::size_t>(c)] += at(x, i, c);
      dots[static_cast<std::size_t>(c)] += at(x, i, c) * at(y, i, c);
    }
  Buffer<float> s1(cols), d1(cols), s2(cols), d2(cols);
  test::with_threads(1, [&] {
    dense::column_sums(x.view(), s1.span(), false);
    dense::column_dot(x.view(), y.view(), d1.span(), false);
  });
  test::with_threads(2, [&] {
    dense::column_sums(x.view(), s2.span(), false);
    dense::column_dot(x.view(), y.view(), d2.span(), false);
  });
  CHECK(s1.to_vector() == s2.to_vector());
  CHECK(d1.to_vector() == d2.to_vector());
  CHECK(g::rel(ta::to_vec(s1.data(), cols), sums) <= 1e-6);
  CHECK(g::rel(ta::to_vec(d1.data(), cols), dots) <= 1e-6);
  dense::column_sums(x.view(), s1.span(), true);  // accumulate: twice the sums
  for (auto& v : sums) v *= 2;
  CHECK(g::rel(ta::to_vec(s1.data(), cols), sums) <= 1e-6);

  Matrix<float> b = random_matrix(rows, cols, 7);
  const auto before = ta::to_vec(b);
  const Buffer<float> bias = random_vector(cols, 8);
  dense::bias_add(b.view(), bias.span());
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t c = 0; c < cols; ++c)
      CHECK(at(b, i, c) == static_cast<float>(before[static_cast<std::size_t>(i * cols + c)] + bias[c]));
}

TEST_CASE("dense LayerNorm forward, apply and backward against float64", "[cpu][attention][dense]") {
  const std::int64_t rows = 21, cols = 37;
  const Matrix<float> x = random_matrix(rows, cols, 9, 2.0), dy = random_matrix(rows, cols, 10);
  const Buffer<float> gamma = random_vector(cols, 11), beta = random_vector(cols, 12);
  const float eps = 1e-5f;
  Matrix<float> y(rows, cols), xhat(rows, cols), y2(rows, cols), dx(rows, cols);
  Buffer<float> rstd(rows), dgamma(cols), dbeta(cols);
  dgamma.zero();
  dbeta.zero();
  dense::layer_norm_forward(x.view(), gamma.span(), beta.span(), eps, y.view(), xhat.view(), rstd.span());
  dense::layer_norm_apply(xhat.view(), gamma.span(), beta.span(), y2.view());
  CHECK(y.buffer().to_vector() == y2.buffer().to_vector());
  dense::layer_norm_backward(xhat.view(), rstd.span(), gamma.span(), dy.view(), dx.view(), false,
                             dgamma.span(), dbeta.span());
  std::vector<double> yr(static_cast<std::size_t>(rows * cols)), dxr(yr.size()), dgr(cols, 0), dbr(cols, 0);
  for (std::int64_t i = 0; i < rows; ++i) {
    double mean = 0, var = 0;
    for (std::int64_t c = 0; c < cols; ++c) mean += at(x, i, c);
    mean /= cols;
    for (std::int64_t c = 0; c < cols; ++c) var += (at(x, i, c) - mean) * (at(x, i, c) - mean);
    var /= cols;
    const double r = 1 / std::sqrt(var + eps);
    double m1 = 0, m2 = 0;
    for (std::int64_t c = 0; c < cols; ++c) {
      const double h = (at(x, i, c) - mean) * r, gg = at(dy, i, c) * gamma[c];
      yr[static_cast<std::size_t>(i * cols + c)] = gamma[c] * h + beta[c];
      m1 += gg / cols;
      m2 += gg * h / cols;
      dgr[static_cast<std::size_t>(c)] += at(dy, i, c) * h;
      dbr[static_cast<std::size_t>(c)] += at(dy, i, c);
    }
    for (std::int64_t c = 0; c < cols; ++c) {
      const double h = (at(x, i, c) - mean) * r;
      dxr[static_cast<std::size_t>(i * cols + c)] = r * (at(dy, i, c) * gamma[c] - m1 - h * m2);
    }
  }
  CHECK(g::rel(ta::to_vec(y), yr) <= 1e-6);
  CHECK(g::rel(ta::to_vec(dx), dxr) <= 1e-5);
  CHECK(g::rel(ta::to_vec(dgamma.data(), cols), dgr) <= 1e-6);
  CHECK(g::rel(ta::to_vec(dbeta.data(), cols), dbr) <= 1e-6);
  // In place: y may be x itself.
  Matrix<float> inplace = random_matrix(rows, cols, 9, 2.0);
  dense::layer_norm_forward(inplace.view(), gamma.span(), beta.span(), eps, inplace.view(), {}, {});
  CHECK(inplace.buffer().to_vector() == y.buffer().to_vector());
}

TEST_CASE("dense GELU, tanh and axpby against float64", "[cpu][attention][dense]") {
  const std::int64_t rows = 9, cols = 70;
  const Matrix<float> x = random_matrix(rows, cols, 13, 2.0), dy = random_matrix(rows, cols, 14);
  Matrix<float> y(rows, cols), dx(rows, cols), t(rows, cols), dt(rows, cols);
  dense::gelu_forward(x.view(), y.view());
  dense::gelu_backward(x.view(), dy.view(), dx.view());
  dense::tanh_forward(x.view(), t.view());
  dense::tanh_backward(t.view(), dy.view(), dt.view());
  std::vector<double> yr, dxr, tr, dtr;
  for (std::int64_t i = 0; i < rows * cols; ++i) {
    const double v = x.buffer()[i], gr = dy.buffer()[i];
    const double cdf = 0.5 * (1 + std::erf(v / std::sqrt(2.0))),
                 pdf = std::exp(-0.5 * v * v) / std::sqrt(2 * std::numbers::pi);
    yr.push_back(v * cdf);
    dxr.push_back(gr * (cdf + v * pdf));
    tr.push_back(std::tanh(v));
    dtr.push_back(gr * (1 - std::tanh(v) * std::tanh(v)));
  }
  CHECK(g::rel(ta::to_vec(y), yr) <= 1e-6);
  CHECK(g::rel(ta::to_vec(dx), dxr) <= 1e-6);
  CHECK(g::rel(ta::to_vec(t), tr) <= 1e-6);
  CHECK(g::rel(ta::to_vec(dt), dtr) <= 1e-6);

  Matrix<float> a = random_matrix(rows, cols, 15);
  const auto av = ta::to_vec(a), xv = ta::to_vec(x);
  dense::axpby(0.5f, dense::flat(x.view()), -2.0f, dense::flat(MatrixView<const float>(a.view())),
               dense::flat(a.view()));
  std::vector<double> ref;
  for (std::size_t i = 0; i < av.size(); ++i) ref.push_back(0.5 * xv[i] - 2.0 * av[i]);
  CHECK(g::rel(ta::to_vec(a), ref) <= 1e-6);
  Matrix<float> sum(rows, cols);
  dense::add(x.view(), dy.view(), sum.view());
  dense::copy(sum.view(), t.view());
  dense::add(x.view(), t.view());
  for (std::int64_t i = 0; i < rows * cols; ++i)
    CHECK(t.buffer()[i] == (x.buffer()[i] + dy.buffer()[i]) + x.buffer()[i]);
}

TEST_CASE("dense argument errors name the primitive and the operand", "[cpu][attention][dense]") {
  Matrix<float> a(4, 3), b(3, 5), c(4, 5), bad(4, 4);
  a.buffer().zero();
  b.buffer().zero();
  Buffer<float> v3(3), v5(5), v4(4);
  REQUIRE_THROWS_WITH(dense::gemm(false, false, 1.0f, a.view(), b.view(), 0.0f, bad.view()),
                      Contains("gemm") && Contains("C is (4, 4)"));
  REQUIRE_THROWS_WITH(dense::gemm(true, false, 1.0f, a.view(), b.view(), 0.0f, c.view()),
                      Contains("gemm") && Contains("transposed"));
  // Operands on another device are refused before any backend runs (no GPU needed).
  const MatrixView<const float> on_gpu{reinterpret_cast<const float*>(0x1000), 3, 5, Device::cuda};
  REQUIRE_THROWS_WITH(dense::gemm(false, false, 1.0f, a.view(), on_gpu, 0.0f, c.view()),
                      Contains("gemm: B is on cuda but A is on cpu"));
  REQUIRE_THROWS_WITH(dense::gemm(false, false, 1.0f, a.view(), b.view(), 0.0f,
                                  MatrixView<float>{a.buffer().data(), 4, 5, Device::cpu}),
                      Contains("must not overlap"));
  REQUIRE_THROWS_WITH(dense::bias_add(c.view(), v3.span()), Contains("bias_add") && Contains("3 values"));
  REQUIRE_THROWS_WITH(dense::bias_add(c.view(), Span<const float>{v5.data(), 5, Device::cuda}),
                      Contains("bias_add: the bias is on cuda"));
  REQUIRE_THROWS_WITH(dense::column_sums(c.view(), v4.span(), false),
                      Contains("column_sums: out has 4 values"));
  REQUIRE_THROWS_WITH(dense::layer_norm_forward(a.view(), v3.span(), v4.span(), 1e-5f, a.view(), {}, {}),
                      Contains("layer_norm: beta has 4 values"));
  REQUIRE_THROWS_WITH(
      dense::layer_norm_forward(a.view(), v3.span(), v3.span(), 1e-5f, a.view(), {}, v3.span()),
      Contains("rstd has 3 values") && Contains("needs 4"));
  Matrix<float> dx(4, 3);
  Buffer<float> r4(4);
  REQUIRE_THROWS_WITH(
      dense::layer_norm_backward(a.view(), r4.span(), v3.span(), a.view(), a.view(), false, {}, {}),
      Contains("dx must not overlap"));
  REQUIRE_THROWS_WITH(dense::gelu_forward(a.view(), c.view()),
                      Contains("gelu") && Contains("differ in shape"));
  REQUIRE_THROWS_WITH(
      dense::gelu_forward(a.view(), MatrixView<float>{reinterpret_cast<float*>(0x1000), 4, 3, Device::cuda}),
      Contains("gelu: y is on cuda but x is on cpu"));
  REQUIRE_THROWS_WITH(dense::axpby(1.0f, v3.span(), 1.0f, v4.span(), v3.span()),
                      Contains("axpby: y has 4 values"));
  REQUIRE_THROWS_WITH(dense::copy(a.view(), c.view()), Contains("copy") && Contains("differ in shape"));
}
