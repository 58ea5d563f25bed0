// Every pattern term against its definition written as plain loops over (i, j), on small n
// including the edge cases (n = 1, n smaller than a block, n not a multiple of the stride).
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <numeric>
#include <set>

#include <diffuser/engine/random.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "graph_test_util.hpp"

using diffuser::cat;
using diffuser::Csr;
using diffuser::graphs::build_pattern;
using diffuser::graphs::pattern_edges;
using diffuser::graphs::term_stream;
using diffuser::graphs::testing::Dense;
namespace rng = diffuser::rng;

namespace {

const std::int64_t kSizes[] = {1, 2, 3, 5, 7, 16, 33, 100};

Dense brute_window(std::int64_t n, std::int64_t r) {
  Dense d(n);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      if (std::abs(i - j) <= r) d.edge(j, i);
  return d;
}

// The authors' numpy code, loop for loop.
Dense brute_blocks(std::int64_t n, std::int64_t w) {
  Dense d(n);
  const std::int64_t half = w / 2;
  for (std::int64_t s = 0; s < std::max<std::int64_t>(n - half, 1); s += half) {
    const std::int64_t e = std::min(s + w, n);
    for (std::int64_t a = s; a < e; ++a)
      for (std::int64_t b = s; b < e; ++b) d.edge(a, b);
  }
  return d;
}

Dense brute_dilated(std::int64_t n, std::int64_t r, std::int64_t g) {
  Dense d(n);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t t = 0; t <= r; ++t)
        if (j == i - t * g || j == i + t * g) d.edge(j, i);
  return d;
}

Dense brute_global(std::int64_t n, const std::set<std::int64_t>& global) {
  Dense d(n);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      if (global.count(i) || global.count(j)) d.edge(j, i);
  return d;
}

Dense brute_random(std::int64_t n, std::int64_t r, std::uint64_t seed, std::uint64_t stream) {
  Dense d(n);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t t = 0; t < r; ++t)
      d.edge(rng::below(seed, stream, static_cast<std::uint64_t>(i * r + t), static_cast<std::uint32_t>(n)),
             i);
  return d;
}

// Fisher-Yates on a full array, the first G slots.
std::set<std::int64_t> brute_random_positions(std::int64_t n, std::int64_t g, std::uint64_t seed,
                                              std::uint64_t stream) {
  std::vector<std::int64_t> slots(static_cast<std::size_t>(n));
  std::iota(slots.begin(), slots.end(), 0);
  g = std::min(g, n);
  for (std::int64_t t = 0; t < g; ++t) {
    const auto j =
        t + rng::below(seed, stream, static_cast<std::uint64_t>(t), static_cast<std::uint32_t>(n - t));
    std::swap(slots[static_cast<std::size_t>(t)], slots[static_cast<std::size_t>(j)]);
  }
  return {slots.begin(), slots.begin() + g};
}

Dense brute_bigbird(std::int64_t n, std::int64_t b, std::int64_t r, std::int64_t g, std::uint64_t seed,
                    std::uint64_t stream) {
  Dense d(n);
  const std::int64_t nb = (n + b - 1) / b;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      const std::int64_t qb = i / b, kb = j / b;
      bool linked = qb < g || kb < g || std::abs(qb - kb) <= 1;
      for (std::int64_t t = 0; t < r; ++t)
        linked = linked || kb == rng::below(seed, stream, static_cast<std::uint64_t>(qb * r + t),
                                            static_cast<std::uint32_t>(nb));
      if (linked) d.edge(j, i);
    }
  return d;
}

Dense unite(const Dense& a, const Dense& b) {
  Dense d(a.n());
  for (std::int64_t i = 0; i < a.n(); ++i)
    for (std::int64_t j = 0; j < a.n(); ++j)
      if (a.has(j, i) || b.has(j, i)) d.edge(j, i);
  return d;
}

// Both builders must give the brute-force graph.
void check_pattern(const std::string& spec, std::int64_t n, std::uint64_t seed, const Dense& expected) {
  INFO("pattern " << spec << ", n = " << n << ", seed = " << seed);
  const Csr built = build_pattern(spec, n, seed);
  REQUIRE_NOTHROW(built.validate());
  CHECK(built == expected.to_csr());
  CHECK(Csr::from_edges(pattern_edges(spec, n, seed)) == built);
}

}  // namespace

TEST_CASE("window:R is |i-j| <= R", "[cpu][graphs]") {
  for (const auto n : kSizes)
    for (const std::int64_t r : {0, 1, 3, 200}) check_pattern(cat("window:", r), n, 0, brute_window(n, r));
}

TEST_CASE("blocks:W matches the authors' overlapping blocks", "[cpu][graphs]") {
  for (const auto n : kSizes)
    for (const std::int64_t w : {2, 4, 6, 8, 10, 64})
      check_pattern(cat("blocks:", w), n, 0, brute_blocks(n, w));
  // Long sequences, sizes around multiples of the stride.
  for (const std::int64_t n : {127, 128, 129, 160, 161, 190})
    for (const std::int64_t w : {16, 64}) check_pattern(cat("blocks:", w), n, 0, brute_blocks(n, w));
}

TEST_CASE("dilated:R:G is j = i +- t*G for t = 0..R", "[cpu][graphs]") {
  for (const auto n : kSizes)
    for (const auto& [r, g] :
         std::vector<std::pair<std::int64_t, std::int64_t>>{{0, 1}, {2, 1}, {3, 4}, {5, 7}, {2, 300}})
      check_pattern(cat("dilated:", r, ":", g), n, 0, brute_dilated(n, r, g));
}

TEST_CASE("global:G makes the first G tokens global", "[cpu][graphs]") {
  for (const auto n : kSizes)
    for (const std::int64_t g : {0, 1, 3, 150}) {
      std::set<std::int64_t> pos;
      for (std::int64_t k = 0; k < std::min(g, n); ++k) pos.insert(k);
      check_pattern(cat("global:", g), n, 0, brute_global(n, pos));
    }
}

TEST_CASE("global-at lists global positions", "[cpu][graphs]") {
  check_pattern("global-at:0", 1, 0, brute_global(1, {0}));
  check_pattern("global-at:4,1,4", 7, 0, brute_global(7, {1, 4}));
  check_pattern("global-at:99,0,50", 100, 0, brute_global(100, {0, 50, 99}));
}

TEST_CASE("global-random:G picks G distinct seeded positions", "[cpu][graphs]") {
  for (const auto n : kSizes)
    for (const std::int64_t g : {0, 1, 3, 40, 200})
      for (const std::uint64_t seed : {0ull, 1ull, 12345ull}) {
        const auto pos = brute_random_positions(n, g, seed, term_stream(0, "global-random"));
        CHECK(static_cast<std::int64_t>(pos.size()) == std::min(g, n));
        check_pattern(cat("global-random:", g), n, seed, brute_global(n, pos));
      }
}

TEST_CASE("random:R draws R seeded sources per token", "[cpu][graphs]") {
  for (const auto n : kSizes)
    for (const std::int64_t r : {0, 1, 5, 30})
      for (const std::uint64_t seed : {0ull, 7ull})
        check_pattern(cat("random:", r), n, seed, brute_random(n, r, seed, term_stream(0, "random")));
}

TEST_CASE("bigbird:B:R:G links whole blocks", "[cpu][graphs]") {
  const std::vector<std::array<std::int64_t, 3>> params = {{1, 0, 0}, {4, 1, 1},  {5, 2, 0},
                                                           {8, 3, 2}, {50, 1, 1}, {3, 0, 9}};
  for (const auto n : kSizes)
    for (const auto& [b, r, g] : params)
      for (const std::uint64_t seed : {0ull, 3ull})
        check_pattern(cat("bigbird:", b, ":", r, ":", g), n, seed,
                      brute_bigbird(n, b, r, g, seed, term_stream(0, "bigbird")));
}

TEST_CASE("block-random:B:R gives each aligned block of B rows the same R random blocks", "[cpu][graphs]") {
  const std::int64_t n = 1000, B = 32;
  const Csr g = build_pattern("block-random:32:3", n, 7);
  g.validate();
  for (std::int64_t q = 0; q * B < n; ++q) {
    const auto first = g.neighbors(q * B);
    // Whole blocks of B sources (the last block may be short), at most 3 of them, ascending.
    std::set<std::int64_t> blocks;
    for (const auto j : first) blocks.insert(j / B);
    REQUIRE(blocks.size() >= 1);
    REQUIRE(blocks.size() <= 3);
    std::int64_t expected = 0;
    for (const auto k : blocks) expected += std::min((k + 1) * B, n) - k * B;
    REQUIRE(static_cast<std::int64_t>(first.size()) == expected);
    for (std::int64_t i = q * B; i < std::min((q + 1) * B, n); ++i) {
      const auto row = g.neighbors(i);
      REQUIRE(std::equal(row.begin(), row.end(), first.begin(), first.end()));  // shared by the block
    }
  }
  REQUIRE(build_pattern("block-random:32:3", n, 7) == g);     // seeded
  REQUIRE(!(build_pattern("block-random:32:3", n, 8) == g));  // another seed, other blocks
  // The block recipe has about as many edges as the token recipe (R = 64 per token either way).
  const Csr tok = build_pattern("diffuser", 4096, 1), blk = build_pattern("diffuser-blocks", 4096, 1);
  const double ratio = double(blk.num_edges()) / double(tok.num_edges());
  CHECK(ratio > 0.95);
  CHECK(ratio < 1.05);
  REQUIRE_THROWS_AS(build_pattern("diffuser-blocks:64:48:64", 100),
                    diffuser::UsageError);  // R not a multiple of 32
  REQUIRE_THROWS_AS(build_pattern("block-random:0:2", 100), diffuser::UsageError);
}

TEST_CASE("self and full", "[cpu][graphs]") {
  for (const auto n : kSizes) {
    Dense self(n), full(n);
    for (std::int64_t i = 0; i < n; ++i) {
      self.edge(i, i);
      for (std::int64_t j = 0; j < n; ++j) full.edge(j, i);
    }
    check_pattern("self", n, 0, self);
    check_pattern("full", n, 0, full);
  }
  // 46341^2 > 2^31: refused before any allocation.
  REQUIRE_THROWS_WITH(build_pattern("full", 46341), Catch::Contains("over the limit of 2^31"));
  REQUIRE_THROWS_WITH(pattern_edges("self+full", 100000), Catch::Contains("term 'full'"));
}

TEST_CASE("a sum of terms is the union of the terms", "[cpu][graphs]") {
  for (const std::int64_t n : {1, 9, 40, 100}) {
    const std::uint64_t seed = 11;
    Dense expected = unite(brute_window(n, 2), brute_random(n, 3, seed, term_stream(1, "random")));
    expected = unite(expected, brute_global(n, {0}));
    check_pattern("window:2+random:3+global:1", n, seed, expected);
    check_pattern("  window:2 +\trandom:3+ global:1 ", n, seed, expected);

    // The same term twice: two streams, two draws.
    const Dense twice = unite(brute_random(n, 4, seed, term_stream(0, "random")),
                              brute_random(n, 4, seed, term_stream(1, "random")));
    check_pattern("random:4+random:4", n, seed, twice);

    // Overlapping and touching ranges (window, blocks, self, global rows) spliced with lists.
    Dense ranges = unite(unite(brute_window(n, 1), brute_blocks(n, 4)), brute_global(n, {0, n / 2}));
    ranges = unite(ranges, brute_random(n, 3, seed, term_stream(4, "random")));
    ranges = unite(ranges, brute_window(n, 0));
    check_pattern(cat("window:1+blocks:4+self+global-at:0,", n / 2, "+random:3"), n, seed, ranges);
    check_pattern("dilated:3:2+window:2+full+random:2", n, seed, brute_window(n, n));

    const Dense mixed = unite(unite(brute_blocks(n, 8), brute_dilated(n, 2, 3)),
                              brute_bigbird(n, 4, 1, 1, seed, term_stream(2, "bigbird")));
    check_pattern("blocks:8+dilated:2:3+bigbird:4:1:1", n, seed, mixed);
  }
  // Two draws of random:4 on 100 tokens overlap only by chance.
  CHECK(build_pattern("random:4+random:4", 100, 1).num_edges() >
        build_pattern("random:4", 100, 1).num_edges());
}

TEST_CASE("diffuser is the authors' recipe", "[cpu][graphs]") {
  for (const std::int64_t n : {1, 50, 64, 65, 300})
    for (const std::uint64_t seed : {0ull, 5ull}) {
      CHECK(build_pattern("diffuser", n, seed) == build_pattern(diffuser::graphs::kDiffuserRecipe, n, seed));
      CHECK(build_pattern("diffuser:8:3:2", n, seed) ==
            build_pattern("blocks:8+random:3+global-random:2", n, seed));
    }
  const std::int64_t n = 200;
  const std::uint64_t seed = 9;
  Dense expected = unite(brute_blocks(n, 64), brute_random(n, 64, seed, term_stream(1, "random")));
  expected =
      unite(expected, brute_global(n, brute_random_positions(n, 64, seed, term_stream(2, "global-random"))));
  check_pattern("diffuser", n, seed, expected);
}

TEST_CASE("random and bigbird with far more draws than tokens or blocks: same graph, bounded work",
          "[cpu][graphs]") {
  using diffuser::graphs::build_pattern;
  using diffuser::graphs::pattern_edges;
  // Fuzz finding (fuzz_pattern, a timeout): bigbird:2:118888888:4 drew and stored all R random
  // blocks. Now the draws stop once every block is in; random:R likewise once every token is in.
  for (const std::int64_t n : {1, 7, 40}) {
    INFO("n = " << n);
    const auto many = build_pattern("bigbird:2:2000000000:1+random:2000000000", n, 3);
    CHECK(many == Csr::from_edges(pattern_edges("bigbird:2:2000000000:1+random:2000000000", n, 3)));
    CHECK(many == build_pattern("full", n));  // so many draws reach every token
  }
  // Up to N draws nothing changed: the rows hold exactly the drawn sources.
  const Csr g = build_pattern("random:5", 40, 9);
  CHECK(g == Csr::from_edges(pattern_edges("random:5", 40, 9)));
  for (std::int64_t i = 0; i < 40; ++i) CHECK(g.degree(i) <= 5);
}
