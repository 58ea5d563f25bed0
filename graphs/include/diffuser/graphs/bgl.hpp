// Boost Graph Library interop: BglGraph lets BGL algorithms (BFS, DFS, strong components,
// Dijkstra, ...) run directly on a Csr's arrays, and helpers copy into boost::adjacency_list.
#pragma once

// Direction: out-edges of vertex v are row v of the CSR, the tokens v attends to (edges j -> v
// seen from v). A BFS from s therefore finds the tokens whose information can reach s, hop by
// hop; run it on BglGraph(g.transpose()) to follow the direction information flows (from s to
// the tokens that attend to it).

#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/graph_traits.hpp>
#include <boost/graph/properties.hpp>
#include <boost/iterator/counting_iterator.hpp>
#include <boost/iterator/iterator_facade.hpp>
#include <boost/property_map/property_map.hpp>

#include <diffuser/engine/csr.hpp>

namespace diffuser::graphs {

// An edge as BGL sees it: `source` is the vertex whose row holds it, `index` its position in the
// CSR column array (a stable edge id, usable to index per-edge arrays such as attention weights).
struct BglEdge {
  std::int32_t source = 0;
  std::int64_t index = 0;
  friend bool operator==(const BglEdge& a, const BglEdge& b) { return a.index == b.index; }
  friend bool operator!=(const BglEdge& a, const BglEdge& b) { return a.index != b.index; }
  friend bool operator<(const BglEdge& a, const BglEdge& b) { return a.index < b.index; }
};

// A non-owning view: the Csr must stay alive (and on the CPU) while the view is used.
class BglGraph {
 public:
  explicit BglGraph(const Csr& g);
  std::int64_t num_nodes() const { return n_; }
  std::int64_t num_edges() const { return m_; }
  const std::int64_t* row_ptr() const { return row_ptr_; }
  const std::int32_t* col() const { return col_; }

 private:
  const std::int64_t* row_ptr_ = nullptr;
  const std::int32_t* col_ = nullptr;
  std::int64_t n_ = 0, m_ = 0;
};

// Out-edges of one vertex: CSR positions [row_ptr[v], row_ptr[v + 1]).
class BglOutEdgeIterator
    : public boost::iterator_facade<BglOutEdgeIterator, BglEdge, std::random_access_iterator_tag, BglEdge> {
 public:
  BglOutEdgeIterator() = default;
  BglOutEdgeIterator(std::int32_t source, std::int64_t index) : edge_{source, index} {}

 private:
  friend class boost::iterator_core_access;
  BglEdge dereference() const { return edge_; }
  bool equal(const BglOutEdgeIterator& o) const { return edge_.index == o.edge_.index; }
  void increment() { ++edge_.index; }
  void decrement() { --edge_.index; }
  void advance(std::ptrdiff_t k) { edge_.index += k; }
  std::ptrdiff_t distance_to(const BglOutEdgeIterator& o) const { return o.edge_.index - edge_.index; }
  BglEdge edge_;
};

// All edges in CSR order (row by row), for EdgeListGraph algorithms and writers.
class BglEdgeIterator
    : public boost::iterator_facade<BglEdgeIterator, BglEdge, std::forward_iterator_tag, BglEdge> {
 public:
  BglEdgeIterator() = default;
  BglEdgeIterator(const BglGraph& g, std::int64_t index) : g_(&g), index_(index) { settle(); }

 private:
  friend class boost::iterator_core_access;
  BglEdge dereference() const { return {static_cast<std::int32_t>(row_), index_}; }
  bool equal(const BglEdgeIterator& o) const { return index_ == o.index_; }
  void increment() {
    ++index_;
    settle();
  }
  // Moves row_ to the row holding index_ (skipping empty rows).
  void settle() {
    while (row_ < g_->num_nodes() && g_->row_ptr()[row_ + 1] <= index_) ++row_;
  }
  const BglGraph* g_ = nullptr;
  std::int64_t index_ = 0, row_ = 0;
};

struct BglTraversalCategory : boost::incidence_graph_tag,
                              boost::adjacency_graph_tag,
                              boost::vertex_list_graph_tag,
                              boost::edge_list_graph_tag {};

// get(edge_index, g): the CSR position of an edge.
struct BglEdgeIndexMap {
  using key_type = BglEdge;
  using value_type = std::int64_t;
  using reference = std::int64_t;
  using category = boost::readable_property_map_tag;
};
inline std::int64_t get(BglEdgeIndexMap, const BglEdge& e) { return e.index; }

}  // namespace diffuser::graphs

namespace boost {

template <>
struct graph_traits<diffuser::graphs::BglGraph> {
  using vertex_descriptor = std::int32_t;
  using edge_descriptor = diffuser::graphs::BglEdge;
  using directed_category = directed_tag;
  using edge_parallel_category = disallow_parallel_edge_tag;
  using traversal_category = diffuser::graphs::BglTraversalCategory;
  using vertex_iterator = counting_iterator<std::int32_t>;
  using out_edge_iterator = diffuser::graphs::BglOutEdgeIterator;
  using adjacency_iterator = const std::int32_t*;
  using edge_iterator = diffuser::graphs::BglEdgeIterator;
  using vertices_size_type = std::size_t;
  using edges_size_type = std::size_t;
  using degree_size_type = std::size_t;
  static vertex_descriptor null_vertex() { return -1; }
};

template <>
struct property_map<diffuser::graphs::BglGraph, vertex_index_t> {
  using type = typed_identity_property_map<std::int32_t>;
  using const_type = type;
};

template <>
struct property_map<diffuser::graphs::BglGraph, edge_index_t> {
  using type = diffuser::graphs::BglEdgeIndexMap;
  using const_type = type;
};

}  // namespace boost

namespace diffuser::graphs {

// The BGL graph interface, found by argument-dependent lookup.
using BglTraits = boost::graph_traits<BglGraph>;

inline std::pair<BglTraits::vertex_iterator, BglTraits::vertex_iterator> vertices(const BglGraph& g) {
  return {BglTraits::vertex_iterator(0), BglTraits::vertex_iterator(static_cast<std::int32_t>(g.num_nodes()))};
}
inline std::size_t num_vertices(const BglGraph& g) { return static_cast<std::size_t>(g.num_nodes()); }
inline std::size_t num_edges(const BglGraph& g) { return static_cast<std::size_t>(g.num_edges()); }
inline std::pair<BglOutEdgeIterator, BglOutEdgeIterator> out_edges(std::int32_t v, const BglGraph& g) {
  return {BglOutEdgeIterator(v, g.row_ptr()[v]), BglOutEdgeIterator(v, g.row_ptr()[v + 1])};
}
inline std::size_t out_degree(std::int32_t v, const BglGraph& g) {
  return static_cast<std::size_t>(g.row_ptr()[v + 1] - g.row_ptr()[v]);
}
inline std::pair<const std::int32_t*, const std::int32_t*> adjacent_vertices(std::int32_t v, const BglGraph& g) {
  return {g.col() + g.row_ptr()[v], g.col() + g.row_ptr()[v + 1]};
}
inline std::int32_t source(const BglEdge& e, const BglGraph&) { return e.source; }
inline std::int32_t target(const BglEdge& e, const BglGraph& g) { return g.col()[e.index]; }
inline std::pair<BglEdgeIterator, BglEdgeIterator> edges(const BglGraph& g) {
  return {BglEdgeIterator(g, 0), BglEdgeIterator(g, g.num_edges())};
}
inline boost::typed_identity_property_map<std::int32_t> get(boost::vertex_index_t, const BglGraph&) { return {}; }
inline std::int32_t get(boost::vertex_index_t, const BglGraph&, std::int32_t v) { return v; }
inline BglEdgeIndexMap get(boost::edge_index_t, const BglGraph&) { return {}; }

// Copies for algorithms that need more than BglGraph offers (in-edges, mutation, undirected
// graphs). Same direction as BglGraph: an edge v -> u for every u in row v.
using BglAdjacencyList = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS>;
using BglUndirectedList = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS>;
BglAdjacencyList to_adjacency_list(const Csr& g);
// One undirected edge per connected pair ({i, j} once even when both j -> i and i -> j exist).
BglUndirectedList to_undirected_list(const Csr& g);

// Hop counts from `source` along BglGraph's out-edges (BGL breadth_first_search): entry j is the
// number of attention steps before token j's information reaches `source`; -1 if it never does.
std::vector<std::int32_t> bfs_hops(const Csr& g, std::int32_t source);
// Component id of each token, ids 0..count-1 numbered by BGL; `count` receives the number of
// components. Weak: edges taken as undirected. Strong: mutual reachability.
std::vector<std::int32_t> weak_component_ids(const Csr& g, std::int32_t* count = nullptr);
std::vector<std::int32_t> strong_component_ids(const Csr& g, std::int32_t* count = nullptr);

}  // namespace diffuser::graphs
