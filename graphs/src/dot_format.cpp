// GraphViz DOT through the Boost Graph Library (read_graphviz / write_graphviz). Kept in its own
// file because BGL's graphviz parser is slow to compile. Nodes are named by their ids; an edge
// "j -> i" means token i attends to token j. Undirected "graph" files give both directions.
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/graphviz.hpp>

#include <diffuser/graphs/bgl.hpp>

#include "format_io.hpp"

namespace diffuser::graphs::detail {

namespace {

template <class Directedness>
using NamedGraph =
    boost::adjacency_list<boost::vecS, boost::vecS, Directedness, boost::property<boost::vertex_name_t, std::string>>;

// Parses `text` into a BGL graph of the given directedness and hands its names and edges on.
template <class Directedness>
EdgeList parse_dot(const std::string& path, const std::string& text, MaybeN n) {
  NamedGraph<Directedness> g;
  boost::dynamic_properties dp(boost::ignore_other_properties);
  dp.property("node_id", get(boost::vertex_name, g));
  if (!boost::read_graphviz(text, g, dp, "node_id")) throw Error(cat(path, ": not a GraphViz DOT graph"));
  std::vector<std::string> names(boost::num_vertices(g));
  for (std::size_t v = 0; v < names.size(); ++v) names[v] = get(boost::vertex_name, g, v);
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  pairs.reserve(boost::num_edges(g));
  for (const auto e : boost::make_iterator_range(boost::edges(g)))
    pairs.emplace_back(boost::source(e, g), boost::target(e, g));
  constexpr bool undirected = std::is_same_v<Directedness, boost::undirectedS>;
  return edges_from_named_graph(path, names, pairs, undirected, n, "node");
}

}  // namespace

EdgeList read_dot(const std::filesystem::path& file, MaybeN n) {
  const std::string path = file.string();
  const std::string text = read_text_file(file);
  try {
    try {
      return parse_dot<boost::directedS>(path, text, n);
    } catch (const boost::undirected_graph_error&) {
      return parse_dot<boost::undirectedS>(path, text, n);  // a "graph { a -- b }" file
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    // BGL's messages carry no file name; ours must.
    throw Error(cat(path, ": malformed DOT file: ", e.what()));
  }
}

void write_dot(const Csr& g, std::ostream& out) {
  // BglGraph's out-edges are rows (i -> the tokens it attends to); the transpose's rows list, for
  // each j, the tokens i that attend to it, so its out-edges are exactly the edges j -> i.
  const Csr flow = g.transpose();
  out << "// diffuser token graph: " << g.num_nodes() << " nodes, " << g.num_edges()
      << " edges; j -> i means token i attends to token j\n";
  boost::write_graphviz(out, BglGraph(flow));
}

}  // namespace diffuser::graphs::detail
