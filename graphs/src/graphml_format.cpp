// GraphML through the Boost Graph Library (read_graphml / write_graphml), in its own file for
// compile time. Node ids come from a "node_id" data key when the file has one (diffuser writes
// it), else from the order of the <node> elements: BGL does not expose the id attribute itself.
#include <typeinfo>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/graphml.hpp>
#include <boost/property_tree/xml_parser.hpp>

#include <diffuser/graphs/bgl.hpp>

#include "format_io.hpp"

namespace diffuser::graphs::detail {

namespace {

using Vertex = std::size_t;  // vertex_descriptor of a vecS adjacency_list

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
    if (value.type() == typeid(std::string)) ids_[v] = boost::any_cast<std::string>(value);
    else if (value.type() == typeid(int)) ids_[v] = std::to_string(boost::any_cast<int>(value));
    else if (value.type() == typeid(long)) ids_[v] = std::to_string(boost::any_cast<long>(value));
    else ids_[v] = "(a non-integer value)";
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
    throw Error(cat(path, ": ", given, " of ", nv, " nodes have a node_id; give it to all of them or to none"));
  std::vector<std::string> names(nv);
  for (std::size_t v = 0; v < nv; ++v) names[v] = given ? ids[v] : std::to_string(v);
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
