#include <catch2/catch.hpp>

#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/error.hpp>
#include "support/context.hpp"

#include "support/reference.hpp"

using namespace diffuser;
using Catch::Matchers::Contains;

TEST_CASE("Csr::from_edges sorts by destination and removes duplicates", "[cpu][engine]") {
  EdgeList el;
  el.n = 4;
  // (src -> dst), unsorted, with a duplicate and a self loop
  for (auto [s, d] : {std::pair{3, 0}, {1, 0}, {3, 0}, {2, 2}, {0, 3}, {1, 3}, {0, 3}}) el.add(s, d);
  const Csr g = Csr::from_edges(el);
  REQUIRE(g.num_nodes() == 4);
  REQUIRE(g.num_edges() == 5);
  REQUIRE(g.row_ptr().to_vector() == std::vector<std::int64_t>{0, 2, 2, 3, 5});
  REQUIRE(g.col().to_vector() == std::vector<std::int32_t>{1, 3, 2, 0, 1});
  REQUIRE(g.has_edge(3, 0));
  REQUIRE_FALSE(g.has_edge(0, 1));
  REQUIRE(g.degree(1) == 0);
  g.validate();
}

TEST_CASE("Csr::from_edges rejects ids out of range, naming the edge", "[cpu][engine]") {
  EdgeList el;
  el.n = 3;
  el.add(0, 1);
  el.add(1, 3);
  REQUIRE_THROWS_WITH(Csr::from_edges(el), Contains("edge 1") && Contains("1 -> 3") && Contains("[0, 3)"));
  EdgeList neg;
  neg.n = 3;
  neg.add(-1, 0);
  REQUIRE_THROWS_AS(Csr::from_edges(neg), Error);
  REQUIRE_THROWS_WITH(Csr::from_edges(-1, {}, {}), Contains("out of range"));
}

TEST_CASE("Csr handles the empty graph and a single node", "[cpu][engine]") {
  const Csr empty = Csr::from_edges(0, {}, {});
  REQUIRE(empty.num_nodes() == 0);
  REQUIRE(empty.num_edges() == 0);
  empty.validate();
  EdgeList one;
  one.n = 1;
  one.add(0, 0);
  const Csr g = Csr::from_edges(one);
  REQUIRE(g.num_edges() == 1);
  REQUIRE(g.transpose() == g);
}

TEST_CASE("Csr::from_arrays validates its input", "[cpu][engine]") {
  REQUIRE_NOTHROW(Csr::from_arrays(3, {0, 1, 1, 3}, {2, 0, 1}));
  REQUIRE_THROWS_WITH(Csr::from_arrays(3, {0, 1, 3}, {2, 0, 1}), Contains("n + 1"));
  REQUIRE_THROWS_WITH(Csr::from_arrays(3, {1, 1, 1, 3}, {2, 0, 1}), Contains("row_ptr[0]"));
  REQUIRE_THROWS_WITH(Csr::from_arrays(3, {0, 1, 1, 3}, {2, 1, 0}),
                      Contains("row 2") && Contains("increasing"));
  REQUIRE_THROWS_WITH(Csr::from_arrays(3, {0, 1, 1, 3}, {2, 1, 1}), Contains("row 2"));
  REQUIRE_THROWS_WITH(Csr::from_arrays(3, {0, 1, 1, 3}, {5, 0, 1}), Contains("row 0") && Contains("outside"));
  REQUIRE_THROWS_WITH(Csr::from_arrays(3, {0, 2, 1, 3}, {0, 1, 1}), Contains("row_ptr"));
}

TEST_CASE("Csr::transpose reverses every edge and maps edge ids", "[cpu][engine]") {
  const Csr g = test::random_graph(50, 6, 11, {3}, {7});
  std::vector<std::int64_t> perm;
  const Csr t = g.transpose(&perm);
  t.validate();
  REQUIRE(t.num_edges() == g.num_edges());
  const auto el = g.edges();
  const auto tl = t.edges();
  for (std::int64_t e = 0; e < t.num_edges(); ++e) {
    // edge e of the transpose is edge perm[e] of g, reversed
    REQUIRE(tl.src[e] == el.dst[perm[e]]);
    REQUIRE(tl.dst[e] == el.src[perm[e]]);
  }
  REQUIRE(t.transpose() == g);
}

TEST_CASE("Csr construction does not depend on the thread count", "[cpu][engine]") {
  EdgeList el;
  el.n = 3000;
  for (std::int64_t t = 0; t < 200000; ++t)
    el.add(static_cast<std::int32_t>((t * 7919) % 3000), static_cast<std::int32_t>((t * 104729) % 3000));
  Csr a, b;
  test::with_threads(1, [&] { a = Csr::from_edges(el); });
  test::with_threads(2, [&] { b = Csr::from_edges(el); });
  REQUIRE(a == b);
  a.validate();
}
