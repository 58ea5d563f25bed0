// GraphML through the Boost Graph Library (read_graphml / write_graphml), in its own file for
// compile time. Node ids come from a "node_id" data key when the file has one (diffuser writes
// it), else from the node's id attribute: "5" (networkx) or "n5" (BGL, yEd).
#include <set>
#include <sstream>
#include <typeinfo>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/graphml.hpp>
#include <boost/property_tree/xml_parser.hpp>

#include <diffuser/graphs/bgl.hpp>

#include "format_io.hpp"

namespace diffuser::graphs::detail {

namespace {

using Vertex = std::size_t;  // vertex_descriptor of a vecS adjacency_list
using boost::property_tree::ptree;

void collect_graphs(const ptree& parent, std::vector<const ptree*>& out) {
  for (const auto& [name, child] : parent)
    if (name == "graph") {
      out.push_back(&child);
      collect_graphs(child, out);
    }
}

// The id attribute of each BGL vertex, in vertex order. BGL does not expose ids, but it numbers
// vertices in the order it meets them: the <node>s graph by graph (a graph, then the graphs
// nested in it), then ids first seen in an <edge>. Replaying that walk names every vertex.
std::vector<std::string> vertex_ids(const std::string& text) {
  ptree root;
  std::istringstream in(text);
  boost::property_tree::read_xml(
      in, root,
      boost::property_tree::xml_parser::no_comments | boost::property_tree::xml_parser::trim_whitespace);
  std::vector<const ptree*> graphs;
  collect_graphs(root.get_child("graphml"), graphs);
  std::vector<std::string> ids;
  std::set<std::string> seen;
  const auto meet = [&](const std::string& id) {
    if (seen.insert(id).second) ids.push_back(id);
  };
  for (const ptree* g : graphs)
    for (const auto& [name, child] : *g)
      if (name == "node") meet(child.get<std::string>("<xmlattr>.id"));
  for (const ptree* g : graphs)
    for (const auto& [name, child] : *g)
      if (name == "edge") {
        meet(child.get<std::string>("<xmlattr>.source"));
        meet(child.get<std::string>("<xmlattr>.target"));
      }
  return ids;
}

// "n5" -> "5": the id style of BGL and yEd; anything else is kept as it is.
std::string strip_n(const std::string& id) {
  if (id.size() > 1 && id[0] == 'n' && id.find_first_not_of("0123456789", 1) == std::string::npos)
    return id.substr(1);
  return id;
}

// Records "node_id" values whatever type the file declares for the key (int, long, string, ...),
// which a typed property map could not.
class NodeIdCollector final : public boost::dynamic_property_map {
 public:
  explicit NodeIdCollector(std::vector<std::string>& ids) : ids_(ids) {}
  boost::any get(const boost::any&) override { return {}; }
  std::string get_string(const boost::any&) override { return {}; }
  void put(const boost::any& key, const boost::any& value) override {
    const auto v = boost::any_cast<Vertex>(key);
    if (ids_.size() <= v) ids_.resize(v + 1);
    if (value.type() == typeid(std::string))
      ids_[v] = boost::any_cast<std::string>(value);
    else if (value.type() == typeid(int))
      ids_[v] = std::to_string(boost::any_cast<int>(value));
    else if (value.type() == typeid(long))
      ids_[v] = std::to_string(boost::any_cast<long>(value));
    else
      ids_[v] = "(a non-integer value)";
  }
  const std::type_info& key() const override { return typeid(Vertex); }
  const std::type_info& value() const override { return typeid(std::string); }

 private:
  std::vector<std::string>& ids_;
};

template <class Directedness>
EdgeList parse_graphml(const std::string& path, const std::string& text, MaybeN n) {
  boost::adjacency_list<boost::vecS, boost::vecS, Directedness> g;
  std::vector<std::string> ids;
  boost::dynamic_properties dp(boost::ignore_other_properties);
  dp.insert("node_id", boost::shared_ptr<boost::dynamic_property_map>(new NodeIdCollector(ids)));
  std::istringstream in(text);
  boost::read_graphml(in, g, dp, 0);

  const std::size_t nv = boost::num_vertices(g);
  std::size_t given = 0;
  for (const auto& id : ids) given += id.empty() ? 0 : 1;
  if (given != 0 && given != nv)
    throw Error(
        cat(path, ": ", given, " of ", nv, " nodes have a node_id; give it to all of them or to none"));
  std::vector<std::string> names(nv);
  if (given) {
    for (std::size_t v = 0; v < nv; ++v) names[v] = ids[v];
  } else {
    const auto attr = vertex_ids(text);
    if (attr.size() != nv)  // a layout this walk does not model: better no graph than a wrong one
      throw Error(cat(path, ": cannot match the ", nv, " nodes to their ids; add a node_id key"));
    for (std::size_t v = 0; v < nv; ++v) names[v] = strip_n(attr[v]);
  }
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  pairs.reserve(boost::num_edges(g));
  for (const auto e : boost::make_iterator_range(boost::edges(g)))
    pairs.emplace_back(boost::source(e, g), boost::target(e, g));
  constexpr bool undirected = std::is_same_v<Directedness, boost::undirectedS>;
  return edges_from_named_graph(path, names, pairs, undirected, n, given ? "node_id" : "node");
}

}  // namespace

EdgeList read_graphml(const std::filesystem::path& file, MaybeN n) {
  const std::string path = file.string();
  const std::string text = read_text_file(file);
  try {
    try {
      return parse_graphml<boost::directedS>(path, text, n);
    } catch (const boost::undirected_graph_error&) {
      return parse_graphml<boost::undirectedS>(path, text, n);  // edgedefault="undirected"
    }
  } catch (const Error&) {
    throw;
  } catch (const boost::property_tree::xml_parser_error& e) {
    throw Error(cat(path, ":", e.line(), ": malformed GraphML: ", e.message()));
  } catch (const std::exception& e) {
    throw Error(cat(path, ": malformed GraphML: ", e.what()));
  }
}

void write_graphml(const Csr& g, std::ostream& out) {
  // As for DOT: the transpose's out-edges are the edges j -> i (i attends to j).
  const Csr flow = g.transpose();
  const BglGraph view(flow);
  boost::dynamic_properties dp;
  dp.property("node_id", get(boost::vertex_index, view));
  boost::write_graphml(out, view, get(boost::vertex_index, view), dp, true);
}

}  // namespace diffuser::graphs::detail
