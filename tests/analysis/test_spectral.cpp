// Spectral analysis against dense eigen-decompositions (Eigen) on small graphs: |lambda_2| of
// P = D^-1 A, the normalized Laplacian of the symmetrized graph, and the special cases.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <complex>

#include <Eigen/Dense>

#include <diffuser/diffusion/spectral.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "analysis/analysis_test_util.hpp"

using namespace diffuser;
using test::analysis::random_graph;

namespace {

Eigen::MatrixXd dense_transition(const Csr& g) {
  const auto n = static_cast<Eigen::Index>(g.num_nodes());
  Eigen::MatrixXd P = Eigen::MatrixXd::Zero(n, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    if (g.degree(i) == 0) {
      P(i, i) = 1.0;
      continue;
    }
    for (const std::int32_t j : g.neighbors(i)) P(i, j) = 1.0 / static_cast<double>(g.degree(i));
  }
  return P;
}

// Second-largest modulus after removing the eigenvalue closest to 1.
double dense_lambda2_modulus(const Csr& g) {
  Eigen::EigenSolver<Eigen::MatrixXd> es(dense_transition(g), false);
  std::vector<std::complex<double>> ev(es.eigenvalues().begin(), es.eigenvalues().end());
  const auto one = std::min_element(ev.begin(), ev.end(),
                                    [](auto a, auto b) { return std::abs(a - 1.0) < std::abs(b - 1.0); });
  ev.erase(one);
  double best = 0;
  for (const auto& e : ev) best = std::max(best, std::abs(e));
  return best;
}

Eigen::MatrixXd dense_sym_adjacency(const Csr& g) {
  const auto n = static_cast<Eigen::Index>(g.num_nodes());
  Eigen::MatrixXd A = Eigen::MatrixXd::Zero(n, n);
  for (Eigen::Index i = 0; i < n; ++i)
    for (const std::int32_t j : g.neighbors(i))
      if (j != i) A(i, j) = A(j, i) = 1.0;
  return A;
}

Eigen::VectorXd dense_laplacian_eigenvalues(const Csr& g) {
  const Eigen::MatrixXd A = dense_sym_adjacency(g);
  const Eigen::VectorXd d = A.rowwise().sum();
  // Chung's convention: an isolated token has L_ii = 0 (it adds an eigenvalue 0, like a component).
  Eigen::MatrixXd L = Eigen::MatrixXd::Identity(A.rows(), A.cols());
  for (Eigen::Index i = 0; i < A.rows(); ++i)
    if (d(i) == 0) L(i, i) = 0.0;
  for (Eigen::Index i = 0; i < A.rows(); ++i)
    for (Eigen::Index j = 0; j < A.cols(); ++j)
      if (A(i, j) != 0) L(i, j) -= 1.0 / std::sqrt(d(i) * d(j));
  return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(L, Eigen::EigenvaluesOnly)
      .eigenvalues();  // ascending
}

Csr circulant(std::int64_t n, std::initializer_list<int> offsets) {
  EdgeList e;
  e.n = n;
  for (std::int64_t i = 0; i < n; ++i)
    for (const int o : offsets) {
      e.add(static_cast<std::int32_t>((i + o) % n), static_cast<std::int32_t>(i));
      e.add(static_cast<std::int32_t>((i - o + n) % n), static_cast<std::int32_t>(i));
    }
  return Csr::from_edges(e);
}

}  // namespace

TEST_CASE("|lambda_2| of P matches a dense eigen-decomposition", "[cpu][analysis]") {
  struct Case {
    const char* name;
    Csr g;
  };
  std::vector<Case> cases;
  cases.push_back({"random k=3, n=60 (non-symmetric)", random_graph(60, 3, 1)});
  cases.push_back({"random k=2 with self loops, n=150", random_graph(150, 2, 2, true)});
  cases.push_back({"random k=4 with 3 empty rows, n=90", random_graph(90, 4, 3, false, 1, 3)});
  cases.push_back({"diffuser:8:4:2, n=128", graphs::build_pattern("diffuser:8:4:2", 128, 5)});
  cases.push_back({"window:3, n=100", graphs::build_pattern("window:3", 100, 0)});
  cases.push_back({"bigbird:4:1:1, n=64", graphs::build_pattern("bigbird:4:1:1", 64, 1)});
  cases.push_back({"two tokens", graphs::build_pattern("window:1", 2, 0)});
  for (const auto& c : cases) {
    INFO(c.name);
    const diffusion::SpectralResult r = diffusion::spectral(c.g);
    CHECK(r.transition.converged);
    CHECK(r.transition.residual <= 1e-8);
    CHECK(r.lambda2_modulus == Approx(dense_lambda2_modulus(c.g)).margin(1e-8));
    CHECK(r.spectral_gap == Approx(1.0 - r.lambda2_modulus));
    const Eigen::VectorXd lap = dense_laplacian_eigenvalues(c.g);
    CHECK(r.laplacian_lambda2.value == Approx(lap(1)).margin(1e-8));
    CHECK(r.laplacian_lambda2.residual <= 1e-8);
  }
}

TEST_CASE("regular graphs get lambda_max and the Ramanujan bound", "[cpu][analysis]") {
  const Csr g = circulant(80, {1, 2, 7});  // 6-regular
  const diffusion::SpectralResult r = diffusion::spectral(g);
  REQUIRE(r.near_regular);
  REQUIRE(r.has_lambda_max);
  REQUIRE(r.ramanujan_bound.has_value());
  CHECK(*r.ramanujan_bound == Approx(2.0 * std::sqrt(5.0) / 6.0));
  const Eigen::VectorXd lap = dense_laplacian_eigenvalues(g);
  CHECK(r.laplacian_lambda_max.value == Approx(lap(lap.size() - 1)).margin(1e-8));
  CHECK(r.adjacency_nontrivial ==
        Approx(std::max(std::fabs(1 - lap(1)), std::fabs(1 - lap(lap.size() - 1)))).margin(1e-8));
  CHECK(r.degree_cv == Approx(0.0).margin(1e-12));
  // The diffuser recipe is far from regular: no bound.
  const diffusion::SpectralResult d = diffusion::spectral(graphs::build_pattern("diffuser:8:4:2", 128, 5));
  CHECK_FALSE(d.near_regular);
  CHECK_FALSE(d.ramanujan_bound.has_value());
  CHECK_FALSE(d.has_lambda_max);
}

TEST_CASE("disconnected and complete graphs give the textbook values", "[cpu][analysis]") {
  const Csr split = random_graph(60, 3, 7, true, 2);  // two closed halves: eigenvalue 1 twice
  const diffusion::SpectralResult s = diffusion::spectral(split);
  CHECK(s.components == 2);
  CHECK(s.laplacian_lambda2.value == 0.0);
  CHECK(s.lambda2_modulus == Approx(1.0).margin(1e-8));
  CHECK(s.spectral_gap == Approx(0.0).margin(1e-8));
  const diffusion::SpectralResult full = diffusion::spectral(graphs::build_pattern("full", 40, 0));
  CHECK(full.lambda2_modulus == Approx(0.0).margin(1e-10));
  CHECK(full.laplacian_lambda2.value == Approx(40.0 / 39.0).margin(1e-8));
}

TEST_CASE("symmetrize keeps each pair once per direction and drops self loops", "[cpu][analysis]") {
  const Csr g = random_graph(50, 3, 9, true);
  const Csr s = diffusion::symmetrize(g);
  const Eigen::MatrixXd A = dense_sym_adjacency(g);
  std::int64_t pairs = 0;
  for (std::int64_t i = 0; i < 50; ++i)
    for (std::int64_t j = 0; j < 50; ++j) {
      CHECK(s.has_edge(static_cast<std::int32_t>(j), static_cast<std::int32_t>(i)) == (A(i, j) != 0));
      pairs += A(i, j) != 0;
    }
  CHECK(s.num_edges() == pairs);
}

TEST_CASE("spectral rejects bad options and tiny graphs", "[cpu][analysis]") {
  const Csr g = random_graph(20, 2, 1);
  diffusion::SpectralOptions o;
  o.tol = 0;
  CHECK_THROWS_AS(diffusion::spectral(g, o), UsageError);
  o = {};
  o.krylov_dim = 2;
  CHECK_THROWS_AS(diffusion::spectral(g, o), UsageError);
  o = {};
  o.max_iterations = 0;
  CHECK_THROWS_AS(diffusion::spectral(g, o), UsageError);
  CHECK_THROWS_AS(diffusion::spectral(random_graph(1, 0, 1)), Error);
  // A budget too small to converge is reported, not hidden.
  o = {};
  o.max_iterations = 5;
  o.krylov_dim = 4;
  const auto r = diffusion::spectral(graphs::build_pattern("window:2", 400, 0), o);
  CHECK_FALSE(r.transition.converged);
}
