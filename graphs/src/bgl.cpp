// BGL helpers over Csr: the view's constructor, copies into adjacency_list, and the algorithms
// diffuser calls most (BFS hop counts, weak and strong components).
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/connected_components.hpp>
#include <boost/graph/strong_components.hpp>
#include <boost/graph/visitors.hpp>

#include <diffuser/engine/error.hpp>
#include <diffuser/graphs/bgl.hpp>

namespace diffuser::graphs {

BglGraph::BglGraph(const Csr& g)
    : row_ptr_(g.row_ptr().data()), col_(g.col().data()), n_(g.num_nodes()), m_(g.num_edges()) {
  DIFFUSER_CHECK(g.device() == Device::cpu, "BGL algorithms need the graph on the CPU");
}

BglAdjacencyList to_adjacency_list(const Csr& g) {
  BglAdjacencyList out(static_cast<std::size_t>(g.num_nodes()));
  for (std::int64_t v = 0; v < g.num_nodes(); ++v)
    for (const auto u : g.neighbors(v)) boost::add_edge(static_cast<std::size_t>(v), static_cast<std::size_t>(u), out);
  return out;
}

BglUndirectedList to_undirected_list(const Csr& g) {
  BglUndirectedList out(static_cast<std::size_t>(g.num_nodes()));
  for (std::int64_t v = 0; v < g.num_nodes(); ++v)
    for (const auto u : g.neighbors(v)) {
      // A pair linked both ways is added once (from the larger end's row); a one-way pair once.
      if (u > v && g.has_edge(static_cast<std::int32_t>(v), u)) continue;
      boost::add_edge(static_cast<std::size_t>(v), static_cast<std::size_t>(u), out);
    }
  return out;
}

std::vector<std::int32_t> bfs_hops(const Csr& g, std::int32_t source) {
  if (source < 0 || source >= g.num_nodes())
    throw Error(cat("BFS source ", source, " is outside [0, ", g.num_nodes(), ")"));
  const BglGraph view(g);
  std::vector<std::int32_t> hops(static_cast<std::size_t>(g.num_nodes()), -1);
  hops[static_cast<std::size_t>(source)] = 0;
  auto recorder = boost::record_distances(
      boost::make_iterator_property_map(hops.begin(), get(boost::vertex_index, view)), boost::on_tree_edge());
  boost::breadth_first_search(view, source, boost::visitor(boost::make_bfs_visitor(recorder)));
  return hops;
}

std::vector<std::int32_t> weak_component_ids(const Csr& g, std::int32_t* count) {
  const auto undirected = to_undirected_list(g);
  std::vector<std::int32_t> ids(static_cast<std::size_t>(g.num_nodes()));
  const int c = boost::connected_components(undirected, ids.data());
  if (count) *count = c;
  return ids;
}

std::vector<std::int32_t> strong_component_ids(const Csr& g, std::int32_t* count) {
  const BglGraph view(g);
  std::vector<std::int32_t> ids(static_cast<std::size_t>(g.num_nodes()));
  const int c = boost::strong_components(
      view, boost::make_iterator_property_map(ids.begin(), get(boost::vertex_index, view)));
  if (count) *count = c;
  return ids;
}

}  // namespace diffuser::graphs
