// Spectral analysis against dense eigen-decompositions (Eigen) on small graphs: |lambda_2| of
// P = D^-1 A by every path (structural, dense, Lanczos, Arnoldi), ill-conditioned non-normal
// graphs reported as such, the normalized Laplacian of the symmetrized graph, the special cases.
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

// Token i attends to i - w .. i (itself included).
Csr causal_window(std::int64_t n, int w) {
  EdgeList e;
  e.n = n;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = std::max<std::int64_t>(0, i - w); j <= i; ++j)
      e.add(static_cast<std::int32_t>(j), static_cast<std::int32_t>(i));
  return Csr::from_edges(e);
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
  // Default: blocks up to 128 tokens decomposed densely; dense_limit 0: Spectra for every block
  // above 16 tokens (Lanczos for symmetric blocks, Arnoldi and the left Arnoldi run otherwise).
  for (const std::int64_t dense_limit : {std::int64_t{128}, std::int64_t{0}})
    for (const auto& c : cases) {
      INFO(c.name << ", dense_limit " << dense_limit);
      diffusion::SpectralOptions o;
      o.dense_limit = dense_limit;
      o.mixing_hops = 0;
      const diffusion::SpectralResult r = diffusion::spectral(c.g, o);
      CHECK(r.transition.converged);
      CHECK(r.transition.residual <= 1e-8);
      CHECK(r.lambda2_reliable);
      CHECK(r.lambda2_modulus == Approx(dense_lambda2_modulus(c.g)).margin(1e-8));
      CHECK(r.spectral_gap == Approx(1.0 - r.lambda2_modulus));
      if (r.lambda2_condition) CHECK(*r.lambda2_condition < 1e6);
      const Eigen::VectorXd lap = dense_laplacian_eigenvalues(c.g);
      CHECK(r.laplacian_lambda2.value == Approx(lap(1)).margin(1e-8));
      CHECK(r.laplacian_lambda2.residual <= 1e-8);
    }
}

TEST_CASE("a causal window's lambda_2 is its exact diagonal entry, whatever the solver", "[cpu][analysis]") {
  // Token i attends to i - w .. i: P is lower triangular, its eigenvalues are 1 / deg(i) = 1, 1/2,
  // .., 1/(w + 1); |lambda_2| = 1/2 (LAPACK agrees; restarted Arnoldi on the whole matrix finds
  // 0.72-0.77 with a tiny residual, inside the pseudospectrum).
  for (const std::int64_t n : {std::int64_t{40}, std::int64_t{400}}) {
    const Csr g = causal_window(n, 8);
    diffusion::SpectralOptions o;
    o.dense_limit = 0;
    const diffusion::SpectralResult r = diffusion::spectral(g, o);
    CHECK(r.strong_components == n);
    CHECK(r.closed_classes == 1);
    CHECK(r.lambda2_method == "structural");
    CHECK(r.lambda2_reliable);
    CHECK(r.lambda2 == std::complex<double>(0.5, 0.0));
    CHECK(r.spectral_gap == 0.5);
    CHECK_FALSE(r.symmetric);
    // The eigenvalues say 0.5^k; the mixing profile says that after 16 hops attention has not
    // forgotten its origin when N = 400 (each hop moves it about 4.5 tokens back towards token 0).
    REQUIRE(r.mixing.has_value());
    if (n == 400) {
      CHECK(r.mixing->hops.size() == 16);
      CHECK(r.mixing->hops.back().max > 0.5);
      CHECK_FALSE(r.mixing->mixing_hops.has_value());
    }
  }
}

TEST_CASE("a strongly connected non-normal graph is reported as ill-conditioned", "[cpu][analysis]") {
  // A walk that drifts: token i attends to i-1, i-2, i-3 and i+1, so attention flows backwards
  // three times as often as forwards. One strongly connected block, far from normal: LAPACK on P
  // and on P^T disagree by 0.14 at N = 300 (0.867 against 0.731), so no solver can give a number.
  const std::int64_t n = 300;
  EdgeList e;
  e.n = n;
  for (std::int64_t i = 0; i < n; ++i)
    for (const std::int64_t j : {i - 1, i - 2, i - 3, i + 1})
      if (j >= 0 && j < n) e.add(static_cast<std::int32_t>(j), static_cast<std::int32_t>(i));
  const Csr g = Csr::from_edges(e);
  for (const std::int64_t dense_limit : {std::int64_t{0}, std::int64_t{1000}}) {
    INFO("dense_limit " << dense_limit);
    diffusion::SpectralOptions o;
    o.dense_limit = dense_limit;
    o.mixing_hops = 4;
    const diffusion::SpectralResult r = diffusion::spectral(g, o);
    CHECK(r.strong_components == 1);
    CHECK(r.lambda2_method == (dense_limit == 0 ? "arnoldi" : "dense"));
    CHECK_FALSE(r.lambda2_reliable);
    CHECK_THAT(r.lambda2_note, Catch::Matchers::Contains("ill-conditioned"));
  }
  // The same walk without drift (i-1 and i+1) is symmetric: reliable, and the same as Eigen's.
  EdgeList f;
  f.n = n;
  for (std::int64_t i = 0; i < n; ++i)
    for (const std::int64_t j : {i - 1, i + 1})
      if (j >= 0 && j < n) f.add(static_cast<std::int32_t>(j), static_cast<std::int32_t>(i));
  const Csr sym = Csr::from_edges(f);
  const diffusion::SpectralResult rs = diffusion::spectral(sym);
  CHECK(rs.lambda2_reliable);
  CHECK(rs.lambda2_modulus == Approx(dense_lambda2_modulus(sym)).margin(1e-8));
  // A symmetric graph is never ill-conditioned: kappa <= sqrt(max degree / min degree).
  diffusion::SpectralOptions o;
  o.dense_limit = 0;
  const diffusion::SpectralResult w =
      diffusion::spectral(graphs::build_pattern("window:3+global:1", 300, 0), o);
  CHECK(w.symmetric);
  CHECK(w.lambda2_method == "lanczos");
  CHECK(w.lambda2_reliable);
  REQUIRE(w.lambda2_condition.has_value());
  CHECK(*w.lambda2_condition <= std::sqrt(300.0 / 4.0) + 1e-9);
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
