// The BGL adapter: concept checks, BFS and components against brute force on the same graphs.
#include <catch2/catch.hpp>

#include <set>

#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/graph_concepts.hpp>
#include <boost/graph/strong_components.hpp>

#include <diffuser/engine/error.hpp>
#include <diffuser/graphs/bgl.hpp>
#include <diffuser/graphs/pattern.hpp>

using diffuser::Csr;
using diffuser::graphs::BglGraph;

BOOST_CONCEPT_ASSERT((boost::IncidenceGraphConcept<BglGraph>));
BOOST_CONCEPT_ASSERT((boost::AdjacencyGraphConcept<BglGraph>));
BOOST_CONCEPT_ASSERT((boost::VertexListGraphConcept<BglGraph>));
BOOST_CONCEPT_ASSERT((boost::EdgeListGraphConcept<BglGraph>));
BOOST_CONCEPT_ASSERT((boost::ReadablePropertyGraphConcept<BglGraph, std::int32_t, boost::vertex_index_t>));

namespace {

// Reachability by repeated relaxation over an adjacency matrix: reach[s][v] = hops from s to v
// following row order (s -> the tokens s attends to), -1 if unreachable.
std::vector<std::vector<std::int32_t>> brute_hops(const Csr& g) {
  const auto n = g.num_nodes();
  std::vector<std::vector<char>> adj(static_cast<std::size_t>(n), std::vector<char>(static_cast<std::size_t>(n), 0));
  for (std::int64_t v = 0; v < n; ++v)
    for (const auto u : g.neighbors(v)) adj[v][u] = 1;
  std::vector<std::vector<std::int32_t>> hops(static_cast<std::size_t>(n), std::vector<std::int32_t>(static_cast<std::size_t>(n), -1));
  for (std::int64_t s = 0; s < n; ++s) {
    hops[s][s] = 0;
    for (std::int32_t level = 0; level < n; ++level)
      for (std::int64_t v = 0; v < n; ++v)
        if (hops[s][v] == level)
          for (std::int64_t u = 0; u < n; ++u)
            if (adj[v][u] && hops[s][u] < 0) hops[s][u] = level + 1;
  }
  return hops;
}

// Checks that ids partition the vertices exactly as `same` says.
template <class Same>
void check_partition(const std::vector<std::int32_t>& ids, std::int32_t count, std::int64_t n, Same same) {
  std::set<std::int32_t> distinct(ids.begin(), ids.end());
  CHECK(static_cast<std::int32_t>(distinct.size()) == count);
  for (std::int64_t a = 0; a < n; ++a)
    for (std::int64_t b = 0; b < n; ++b) CHECK((ids[a] == ids[b]) == same(a, b));
}

}  // namespace

TEST_CASE("BFS on the CSR view matches brute force", "[cpu][graphs]") {
  for (const char* spec : {"random:1", "random:2+dilated:1:7", "window:1", "global-at:3"}) {
    INFO(spec);
    const Csr g = diffuser::graphs::build_pattern(spec, 40, 5);
    const auto expected = brute_hops(g);
    for (std::int32_t s = 0; s < g.num_nodes(); ++s) CHECK(diffuser::graphs::bfs_hops(g, s) == expected[s]);

    // The same through BGL directly on the transpose: hops along information flow.
    const Csr flow = g.transpose();
    const BglGraph view(flow);
    std::vector<std::int32_t> hops(static_cast<std::size_t>(g.num_nodes()), -1);
    hops[0] = 0;
    boost::breadth_first_search(
        view, 0,
        boost::visitor(boost::make_bfs_visitor(boost::record_distances(
            boost::make_iterator_property_map(hops.begin(), get(boost::vertex_index, view)), boost::on_tree_edge()))));
    for (std::int64_t v = 0; v < g.num_nodes(); ++v) CHECK(hops[v] == expected[v][0]);
  }
  REQUIRE_THROWS_AS(diffuser::graphs::bfs_hops(diffuser::graphs::build_pattern("self", 3), 3), diffuser::Error);
}

TEST_CASE("components on the CSR view match brute force", "[cpu][graphs]") {
  for (const char* spec : {"random:1", "random:1+self", "window:1", "global-at:0", "dilated:1:5+random:1"}) {
    INFO(spec);
    const Csr g = diffuser::graphs::build_pattern(spec, 30, 8);
    const auto n = g.num_nodes();
    const auto hops = brute_hops(g);
    std::int32_t count = 0;
    const auto strong = diffuser::graphs::strong_component_ids(g, &count);
    check_partition(strong, count, n, [&](auto a, auto b) { return hops[a][b] >= 0 && hops[b][a] >= 0; });

    // Weak components: reachability in the symmetrised graph.
    diffuser::EdgeList sym = g.edges();
    const auto m = sym.size();
    for (std::int64_t e = 0; e < m; ++e) sym.add(sym.dst[e], sym.src[e]);
    const auto sym_hops = brute_hops(Csr::from_edges(sym));
    const auto weak = diffuser::graphs::weak_component_ids(g, &count);
    check_partition(weak, count, n, [&](auto a, auto b) { return sym_hops[a][b] >= 0; });
  }
}

TEST_CASE("BglGraph exposes the CSR rows and edge ids", "[cpu][graphs]") {
  const Csr g = diffuser::graphs::build_pattern("random:3+window:1", 25, 2);
  const BglGraph view(g);
  CHECK(num_vertices(view) == 25);
  CHECK(num_edges(view) == static_cast<std::size_t>(g.num_edges()));
  std::int64_t seen = 0;
  for (const auto e : boost::make_iterator_range(edges(view))) {
    CHECK(get(get(boost::edge_index, view), e) == seen);
    CHECK(target(e, view) == g.col()[seen]);
    CHECK(g.row_ptr()[source(e, view)] <= seen);
    CHECK(seen < g.row_ptr()[source(e, view) + 1]);
    ++seen;
  }
  CHECK(seen == g.num_edges());
  for (std::int32_t v = 0; v < 25; ++v) {
    CHECK(out_degree(v, view) == static_cast<std::size_t>(g.degree(v)));
    const auto [a, b] = adjacent_vertices(v, view);
    CHECK(std::vector<std::int32_t>(a, b) == std::vector<std::int32_t>(g.neighbors(v).begin(), g.neighbors(v).end()));
  }

  const auto list = diffuser::graphs::to_adjacency_list(g);
  CHECK(boost::num_edges(list) == static_cast<std::size_t>(g.num_edges()));
  for (const auto e : boost::make_iterator_range(boost::edges(list)))
    CHECK(g.has_edge(static_cast<std::int32_t>(boost::target(e, list)), static_cast<std::int32_t>(boost::source(e, list))));
  CHECK(boost::in_degree(0, list) == 0 + static_cast<std::size_t>(g.transpose().degree(0)));
}
