// Diffusion mass against dense matrix powers: the outside share per hop and token, uniform and
// softmax attention, sampled estimates within their bound, and one diffused row.
#include <catch2/catch.hpp>

#include <cmath>

#include <Eigen/Dense>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/diffusion/mass.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "analysis/analysis_test_util.hpp"

using namespace diffuser;
using diffusion::Coefficients;
using test::analysis::random_graph;

namespace {

// Dense A for head h (uniform when w is empty; empty or weightless rows attend to themselves).
Eigen::MatrixXd dense_attention(const Csr& g, MatrixView<const float> w, int h) {
  const auto n = static_cast<Eigen::Index>(g.num_nodes());
  Eigen::MatrixXd A = Eigen::MatrixXd::Zero(n, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    double sum = 0;
    for (std::int64_t e = g.row_ptr()[i]; e < g.row_ptr()[i + 1]; ++e) {
      const double v = w.data ? w.row(e)[h] : 1.0 / static_cast<double>(g.degree(i));
      A(i, g.col()[e]) = v;
      sum += v;
    }
    if (sum == 0) A(i, i) = 1.0;
  }
  return A;
}

// outside[k][i] by dense powers.
std::vector<std::vector<double>> dense_outside(const Csr& g, MatrixView<const float> w, int h, int K) {
  const Eigen::MatrixXd A = dense_attention(g, w, h);
  const auto n = A.rows();
  std::vector<std::vector<double>> out;
  Eigen::MatrixXd Ak = Eigen::MatrixXd::Identity(n, n);
  for (int k = 0; k <= K; ++k) {
    std::vector<double> o(static_cast<std::size_t>(n));
    for (Eigen::Index i = 0; i < n; ++i) {
      double direct = Ak(i, i);
      for (const std::int32_t j : g.neighbors(i))
        if (j != i) direct += Ak(i, j);
      o[static_cast<std::size_t>(i)] = (Ak.row(i).sum() - direct) / Ak.row(i).sum();
    }
    out.push_back(o);
    Ak = Ak * A;
  }
  return out;
}

void check_exact(const Csr& g, const Coefficients& c, MatrixView<const float> w) {
  const int H = w.data ? static_cast<int>(w.cols) : 1;
  const int K = c.hops();
  diffusion::MassOptions opt;
  opt.sample = 0;
  const diffusion::MassResult r = diffusion::diffusion_mass(g, c, w, opt);
  REQUIRE(r.exact);
  REQUIRE(r.hops.size() == static_cast<std::size_t>(K) + 1);
  double theta_sum = 0;
  for (const double t : c.theta()) theta_sum += t;
  std::vector<double> mean(static_cast<std::size_t>(K) + 1, 0.0);
  double total = 0, tok_min = 1, tok_max = 0;
  for (int h = 0; h < H; ++h) {
    const auto o = dense_outside(g, w, h, K);
    for (std::int64_t i = 0; i < g.num_nodes(); ++i) {
      double tok = 0;
      for (int k = 0; k <= K; ++k) {
        mean[static_cast<std::size_t>(k)] += o[static_cast<std::size_t>(k)][static_cast<std::size_t>(i)];
        tok += c.theta()[static_cast<std::size_t>(k)] / theta_sum *
               o[static_cast<std::size_t>(k)][static_cast<std::size_t>(i)];
      }
      total += tok;
      tok_min = std::min(tok_min, tok), tok_max = std::max(tok_max, tok);
    }
  }
  const double count = static_cast<double>(g.num_nodes() * H);
  for (int k = 0; k <= K; ++k) {
    INFO("hop " << k);
    CHECK(r.hops[static_cast<std::size_t>(k)].mean ==
          Approx(mean[static_cast<std::size_t>(k)] / count).margin(2e-5));
    CHECK(r.hops[static_cast<std::size_t>(k)].contribution ==
          Approx(r.hops[static_cast<std::size_t>(k)].theta * r.hops[static_cast<std::size_t>(k)].mean));
  }
  CHECK(r.hops[0].max == 0.0);
  CHECK(r.hops[1].max == Approx(0.0).margin(1e-6));
  CHECK(r.outside_mass == Approx(total / count).margin(2e-5));
  CHECK(r.outside_min == Approx(tok_min).margin(2e-5));
  CHECK(r.outside_max == Approx(tok_max).margin(2e-5));
}

Matrix<float> random_weights(const Csr& g, std::int64_t heads, std::int64_t dim, std::uint64_t seed) {
  const std::int64_t n = g.num_nodes();
  std::vector<float> q(static_cast<std::size_t>(n * heads * dim)), k(q.size());
  for (std::size_t x = 0; x < q.size(); ++x) {
    q[x] = static_cast<float>(2.0 * rng::normal(seed, 1, x));
    k[x] = static_cast<float>(2.0 * rng::normal(seed, 2, x));
  }
  return diffusion::attention_weights(g, tensor3_view(static_cast<const float*>(q.data()), n, heads, dim),
                                      tensor3_view(static_cast<const float*>(k.data()), n, heads, dim));
}

}  // namespace

TEST_CASE("diffusion mass matches dense matrix powers", "[cpu][analysis]") {
  SECTION("uniform attention, PPR") {
    check_exact(random_graph(70, 3, 1, true), Coefficients::ppr(5, 0.1), {});
    check_exact(graphs::build_pattern("window:2+random:1", 130, 2), Coefficients::ppr(4, 0.3), {});
    check_exact(random_graph(90, 2, 3, false, 1, 4), Coefficients::custom({0.2, 0.3, 0.5}), {});
  }
  SECTION("softmax attention, 3 heads") {
    const Csr g = random_graph(80, 4, 5, true);
    const Matrix<float> w = random_weights(g, 3, 4, 9);
    check_exact(g, Coefficients::heat(4, 1.5), w.view());
  }
}

TEST_CASE("sampled diffusion mass stays within its stated bound", "[cpu][analysis]") {
  const Csr g = graphs::build_pattern("window:3+random:2", 500, 4);
  const Coefficients c = Coefficients::ppr(4, 0.2);
  diffusion::MassOptions exact;
  exact.sample = 0;
  const auto e = diffusion::diffusion_mass(g, c, {}, exact);
  for (const std::uint64_t seed : {1, 2, 3}) {
    diffusion::MassOptions o;
    o.sample = 64;
    o.seed = seed;
    const auto s = diffusion::diffusion_mass(g, c, {}, o);
    REQUIRE_FALSE(s.exact);
    CHECK(s.sample_sources == 64);
    CHECK(std::fabs(s.outside_mass - e.outside_mass) <= s.half_width);
    for (std::size_t k = 0; k < e.hops.size(); ++k)
      CHECK(std::fabs(s.hops[k].mean - e.hops[k].mean) <= s.half_width);
  }
}

TEST_CASE("a diffused row is row i of sum_k theta_k A^k", "[cpu][analysis]") {
  const Csr g = random_graph(60, 3, 12, false, 1, 2);
  const Matrix<float> w = random_weights(g, 2, 3, 4);
  const Coefficients c = Coefficients::ppr(3, 0.25);
  for (const int h : {0, 1}) {
    const Eigen::MatrixXd A = dense_attention(g, w.view(), h);
    Eigen::MatrixXd T = Eigen::MatrixXd::Zero(60, 60), Ak = Eigen::MatrixXd::Identity(60, 60);
    for (int k = 0; k <= 3; ++k) {
      T += c.theta()[static_cast<std::size_t>(k)] * Ak;
      Ak = Ak * A;
    }
    for (const std::int64_t token : {0, 1, 33}) {
      const auto row = diffusion::diffused_row(g, c, w.view(), h, token);
      for (std::int64_t j = 0; j < 60; ++j)
        CHECK(row[static_cast<std::size_t>(j)] == Approx(T(token, j)).margin(1e-6));
    }
  }
  CHECK_THROWS_AS(diffusion::diffused_row(g, c, w.view(), 2, 0), Error);
  CHECK_THROWS_AS(diffusion::diffused_row(g, c, {}, 0, 60), Error);
}

TEST_CASE("diffusion mass rejects bad coefficients and weights", "[cpu][analysis]") {
  const Csr g = random_graph(20, 2, 1);
  CHECK_THROWS_AS(diffusion::diffusion_mass(g, Coefficients::custom({0.5, -0.1}), {}), Error);
  CHECK_THROWS_AS(diffusion::diffusion_mass(g, Coefficients::custom({0.0, 0.0}), {}), Error);
  const Matrix<float> w = random_weights(random_graph(20, 3, 2), 1, 2, 1);
  CHECK_THROWS_AS(diffusion::diffusion_mass(g, Coefficients::ppr(2, 0.1), w.view()), Error);
}
