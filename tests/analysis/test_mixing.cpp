// The mixing profile against dense matrix powers: tv_k(i) = 1/2 ||P^k[i] - u_k||_1 with u_k the
// average row, exact and sampled (within the stated half-width), and the textbook extremes.
#include <catch2/catch.hpp>

#include <cmath>

#include <Eigen/Dense>

#include <diffuser/diffusion/mixing.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "analysis/analysis_test_util.hpp"

using namespace diffuser;
using test::analysis::random_graph;

namespace {

// Mean and max over tokens of tv_k, k = 1..K, from dense powers of P.
std::vector<std::pair<double, double>> dense_profile(const Csr& g, int K) {
  const auto n = static_cast<Eigen::Index>(g.num_nodes());
  Eigen::MatrixXd P = Eigen::MatrixXd::Zero(n, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    if (g.degree(i) == 0) P(i, i) = 1.0;
    for (const std::int32_t j : g.neighbors(i)) P(i, j) = 1.0 / static_cast<double>(g.degree(i));
  }
  std::vector<std::pair<double, double>> out;
  Eigen::MatrixXd Pk = Eigen::MatrixXd::Identity(n, n);
  for (int k = 1; k <= K; ++k) {
    Pk = Pk * P;
    const Eigen::RowVectorXd u = Pk.colwise().mean();
    double mean = 0, max = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
      const double tv = 0.5 * (Pk.row(i) - u).cwiseAbs().sum();
      mean += tv / static_cast<double>(n);
      max = std::max(max, tv);
    }
    out.emplace_back(mean, max);
  }
  return out;
}

}  // namespace

TEST_CASE("the mixing profile matches dense matrix powers", "[cpu][analysis]") {
  for (const Csr& g :
       {random_graph(150, 3, 4), random_graph(90, 2, 5, true, 1, 3),
        graphs::build_pattern("window:2", 120, 0), graphs::build_pattern("diffuser:8:4:2", 200, 1)}) {
    diffusion::MixingOptions o;
    o.max_hops = 12;
    o.stop_below = 0;
    const diffusion::MixingResult m = diffusion::mixing_profile(g, o);
    CHECK(m.exact);
    const auto ref = dense_profile(g, 12);
    REQUIRE(m.hops.size() == 12);
    for (int k = 0; k < 12; ++k) {
      INFO("k = " << k + 1);
      CHECK(m.hops[static_cast<std::size_t>(k)].mean ==
            Approx(ref[static_cast<std::size_t>(k)].first).margin(1e-5));
      CHECK(m.hops[static_cast<std::size_t>(k)].max ==
            Approx(ref[static_cast<std::size_t>(k)].second).margin(1e-5));
    }
    std::optional<int> first;
    for (int k = 0; k < 12 && !first; ++k)
      if (ref[static_cast<std::size_t>(k)].second <= diffusion::kMixedSpread) first = k + 1;
    CHECK(m.mixing_hops == first);
  }
}

TEST_CASE("sampled mixing lies within its half-width of the exact one", "[cpu][analysis]") {
  const Csr g = graphs::build_pattern("window:4+random:2", 1500, 3);
  diffusion::MixingOptions o;
  o.max_hops = 6;
  o.stop_below = 0;
  o.sample = 0;
  const auto exact = diffusion::mixing_profile(g, o);
  o.sample = 200;
  o.seed = 9;
  const auto sampled = diffusion::mixing_profile(g, o);
  CHECK_FALSE(sampled.exact);
  CHECK(sampled.sample_sources == 200);
  CHECK(sampled.half_width > 0);
  for (std::size_t k = 0; k < 6; ++k) {
    CHECK(std::fabs(sampled.hops[k].mean - exact.hops[k].mean) <= sampled.half_width);
    CHECK(sampled.hops[k].max <= exact.hops[k].max + 1e-6);  // a lower bound
  }
}

TEST_CASE("complete graphs mix in one hop, a window does not", "[cpu][analysis]") {
  const auto full = diffusion::mixing_profile(graphs::build_pattern("full", 64, 0));
  REQUIRE_FALSE(full.hops.empty());
  CHECK(full.hops[0].max == Approx(0.0).margin(1e-6));
  CHECK(full.hops.size() == 1);  // stopped: nothing left to measure
  CHECK(full.mixing_hops == 1);
  const auto window = diffusion::mixing_profile(graphs::build_pattern("window:2", 400, 0));
  CHECK(window.hops.size() == 16);
  CHECK_FALSE(window.mixing_hops.has_value());
  CHECK(window.hops.back().mean < window.hops.front().mean);
  diffusion::MixingOptions bad;
  bad.max_hops = 0;
  CHECK_THROWS_AS(diffusion::mixing_profile(graphs::build_pattern("self", 3, 0), bad), UsageError);
}
