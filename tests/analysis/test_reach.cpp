// Reachability: coverage, receptive fields, diameter and distances against brute-force BFS and
// the Boost Graph Library; sampled estimates within their stated bound.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include <diffuser/diffusion/reach.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/graphs/bgl.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "analysis/analysis_test_util.hpp"

using namespace diffuser;
using diffusion::ReachOptions;
using diffusion::ReachResult;
using test::analysis::brute_distances;
using test::analysis::random_graph;

namespace {

// The whole ReachResult from a distance table (exact mode).
void check_against_brute(const Csr& g, int K) {
  const std::int64_t n = g.num_nodes();
  const auto d = brute_distances(g);
  ReachOptions opt;
  opt.max_hops = K;
  opt.sample = 0;
  const ReachResult r = diffusion::reach(g, opt);
  REQUIRE(r.exact);
  REQUIRE(r.coverage.size() == static_cast<std::size_t>(K));
  std::int64_t diameter = 0, unreachable = 0;
  std::vector<std::int64_t> at(static_cast<std::size_t>(n) + 1, 0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      if (i == j) continue;
      const std::int32_t h = d[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)];
      if (h < 0) {
        ++unreachable;
      } else {
        diameter = std::max<std::int64_t>(diameter, h);
        ++at[static_cast<std::size_t>(h)];
      }
    }
  CHECK(r.diameter == diameter);
  CHECK(r.unreachable_pairs == unreachable);
  CHECK(r.pairs_at_distance.size() == static_cast<std::size_t>(diameter) + 1);
  for (std::int64_t h = 1; h <= diameter; ++h)
    CHECK(r.pairs_at_distance[static_cast<std::size_t>(h)] == at[static_cast<std::size_t>(h)]);
  if (unreachable == 0) {
    REQUIRE(r.full_coverage_hops.has_value());
    CHECK(*r.full_coverage_hops == std::max<std::int64_t>(1, diameter));
  } else {
    CHECK_FALSE(r.full_coverage_hops.has_value());
  }
  for (int k = 1; k <= K; ++k) {
    std::int64_t mn = n + 1, mx = 0, pairs = 0;
    double sum = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      std::int64_t f = 0;
      for (std::int64_t j = 0; j < n; ++j) {
        const std::int32_t h = d[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)];
        if (h >= 0 && h <= k) ++f;
      }
      mn = std::min(mn, f), mx = std::max(mx, f), sum += static_cast<double>(f), pairs += f - 1;
    }
    const auto& rf = r.receptive_field[static_cast<std::size_t>(k - 1)];
    CHECK(rf.min == mn);
    CHECK(rf.max == mx);
    CHECK(rf.mean == Approx(sum / static_cast<double>(n)).epsilon(1e-12));
    CHECK(r.coverage[static_cast<std::size_t>(k - 1)] ==
          Approx(static_cast<double>(pairs) / (static_cast<double>(n) * static_cast<double>(n - 1)))
              .epsilon(1e-12));
  }
}

}  // namespace

TEST_CASE("exact reachability matches brute-force BFS on random graphs", "[cpu][analysis]") {
  // 300 tokens span two blocks of 256 sources (the second one partial); window:1 forces the push
  // path for many hops, the random graphs the pull path.
  struct Case {
    const char* name;
    Csr g;
  };
  std::vector<Case> cases;
  cases.push_back({"random k=2, n=40", random_graph(40, 2, 1)});
  cases.push_back({"random k=1, n=300 (unreachable pairs)", random_graph(300, 1, 2)});
  cases.push_back({"random k=3, n=300, 3 components, isolated tokens", random_graph(300, 3, 3, true, 3, 5)});
  cases.push_back({"random k=6 with self loops, n=517", random_graph(517, 6, 4, true)});
  cases.push_back({"window:1, n=300 (diameter 299)", graphs::build_pattern("window:1", 300, 0)});
  cases.push_back({"dilated:1:7+random:1, n=100", graphs::build_pattern("dilated:1:7+random:1", 100, 9)});
  cases.push_back({"global-at:3, n=50", graphs::build_pattern("global-at:3", 50, 0)});
  cases.push_back({"two tokens, one edge", random_graph(2, 1, 5)});
  for (const auto& c : cases)
    for (const int K : {1, 3, 8}) {
      INFO(c.name << ", K = " << K);
      check_against_brute(c.g, K);
    }
}

TEST_CASE("hop distances agree with BGL breadth-first search", "[cpu][analysis]") {
  const Csr g = random_graph(120, 2, 11, false, 2, 3);
  const auto dm = diffusion::distance_matrix(g, 200);
  for (std::int32_t i = 0; i < g.num_nodes(); ++i) {
    const std::vector<std::int32_t> bgl = graphs::bfs_hops(g, i);
    const std::vector<std::int32_t> ours = diffusion::receive_hops(g, i);
    REQUIRE(ours == bgl);
    for (std::int64_t j = 0; j < g.num_nodes(); ++j) {
      const std::uint8_t h = dm[static_cast<std::size_t>(i * g.num_nodes() + j)];
      CHECK((bgl[static_cast<std::size_t>(j)] < 0 ? diffusion::kUnreached
                                                  : bgl[static_cast<std::size_t>(j)]) == h);
    }
  }
  // Capped: receive_hops with a limit drops what lies further.
  const auto capped = diffusion::receive_hops(g, 7, 2);
  const auto full = graphs::bfs_hops(g, 7);
  for (std::size_t j = 0; j < full.size(); ++j) CHECK(capped[j] == (full[j] > 2 ? -1 : full[j]));
}

TEST_CASE("binned coverage with one token per bin is the reachability matrix", "[cpu][analysis]") {
  const Csr g = graphs::build_pattern("window:2+random:1", 64, 3);
  const auto d = brute_distances(g);
  const auto f = diffusion::binned_coverage(g, 3, 64);
  for (std::size_t i = 0; i < 64; ++i)
    for (std::size_t j = 0; j < 64; ++j) CHECK(f[i * 64 + j] == ((d[i][j] >= 0 && d[i][j] <= 3) ? 1.0 : 0.0));
  // Coarser bins hold the mean of their cells.
  const auto f4 = diffusion::binned_coverage(g, 3, 4);
  double cell = 0;
  for (std::size_t i = 0; i < 16; ++i)
    for (std::size_t j = 16; j < 32; ++j) cell += f[i * 64 + j];
  CHECK(f4[1] == Approx(cell / 256.0));
}

TEST_CASE("sampled reachability stays within its stated error bound", "[cpu][analysis]") {
  const Csr g = random_graph(700, 2, 21, false, 1, 4);
  ReachOptions exact_opt;
  exact_opt.max_hops = 6;
  exact_opt.sample = 0;
  const ReachResult exact = diffusion::reach(g, exact_opt);
  for (const std::uint64_t seed : {1, 2, 3, 4, 5}) {
    ReachOptions opt = exact_opt;
    opt.sample = 120;
    opt.seed = seed;
    const ReachResult s = diffusion::reach(g, opt);
    INFO("seed " << seed);
    REQUIRE_FALSE(s.exact);
    CHECK(s.sample_sources == 120);
    CHECK(s.sampled.size() == 120);
    CHECK(s.coverage_half_width == Approx(diffusion::sampling_half_width(120, 700, 0.95)));
    CHECK(s.field_mean_half_width == Approx(s.coverage_half_width * 699));
    for (std::size_t k = 0; k < 6; ++k) {
      CHECK(std::fabs(s.coverage[k] - exact.coverage[k]) <= s.coverage_half_width);
      CHECK(std::fabs(s.receptive_field[k].mean - exact.receptive_field[k].mean) <= s.field_mean_half_width);
      CHECK(s.receptive_field[k].min >= exact.receptive_field[k].min);
      CHECK(s.receptive_field[k].max <= exact.receptive_field[k].max);
    }
    CHECK(s.diameter <= exact.diameter);
    CHECK(std::fabs(s.unreachable_fraction - exact.unreachable_fraction) <= s.coverage_half_width);
  }
  // The sampled rows' own fields are exact: sampling every token gives the exact result.
  ReachOptions all = exact_opt;
  all.sample = 700;
  const ReachResult a = diffusion::reach(g, all);
  CHECK(a.exact);
  CHECK(a.coverage == exact.coverage);
}

TEST_CASE("sampled receptive fields are those of the sampled tokens", "[cpu][analysis]") {
  const Csr g = random_graph(300, 2, 8);
  const auto d = brute_distances(g);
  ReachOptions opt;
  opt.max_hops = 3;
  opt.sample = 10;
  opt.seed = 4;
  const ReachResult s = diffusion::reach(g, opt);
  std::int64_t mn = 1 << 30;
  for (const std::int64_t i : s.sampled) {
    std::int64_t f = 0;
    for (const auto h : d[static_cast<std::size_t>(i)]) f += h >= 0 && h <= 3;
    mn = std::min(mn, f);
  }
  CHECK(s.receptive_field[2].min == mn);
}

TEST_CASE("token sampling is reproducible, distinct and in range", "[cpu][analysis]") {
  const auto a = diffusion::sample_tokens(1000, 50, 7);
  CHECK(a == diffusion::sample_tokens(1000, 50, 7));
  CHECK(a != diffusion::sample_tokens(1000, 50, 8));
  CHECK(std::set<std::int64_t>(a.begin(), a.end()).size() == 50);
  CHECK(std::is_sorted(a.begin(), a.end()));
  CHECK(a.front() >= 0);
  CHECK(a.back() < 1000);
  CHECK(diffusion::sample_tokens(5, 9, 1) == std::vector<std::int64_t>{0, 1, 2, 3, 4});
  CHECK(diffusion::sampling_half_width(100, 100, 0.95) == 0.0);
  CHECK(diffusion::sampling_half_width(50, 1000, 0.95) > diffusion::sampling_half_width(200, 1000, 0.95));
  CHECK(diffusion::sampling_half_width(50, 1000, 0.99) > diffusion::sampling_half_width(50, 1000, 0.95));
}

TEST_CASE("reach rejects bad options and graphs too small", "[cpu][analysis]") {
  const Csr g = random_graph(10, 2, 1);
  ReachOptions opt;
  opt.max_hops = 0;
  CHECK_THROWS_AS(diffusion::reach(g, opt), UsageError);
  opt.max_hops = diffusion::kMaxReachHops + 1;
  CHECK_THROWS_AS(diffusion::reach(g, opt), UsageError);
  opt.max_hops = 2;
  opt.confidence = 1.0;
  CHECK_THROWS_AS(diffusion::reach(g, opt), UsageError);
  opt.confidence = 0.95;
  CHECK_THROWS_AS(diffusion::reach(random_graph(1, 0, 1), opt), Error);
  CHECK_THROWS_AS(diffusion::receive_hops(g, 10), Error);
  CHECK_THROWS_AS(diffusion::distance_matrix(graphs::build_pattern("window:1", 5000, 0), 2), Error);
}
