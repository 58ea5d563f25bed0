// GraphML, read in one streaming pass with Expat (no DOM, no recursion: elements may nest
// kMaxNesting deep, deeper input is refused with its line) and written by a plain text writer.
// Node ids come from a "node_id" data key when the file has one (diffuser writes it), else from
// the node's id attribute: "5" (networkx, igraph) or "n5" (BGL, yEd). Edges name their endpoints
// by id attribute and must name declared nodes. edgedefault="undirected" (or an edge's own
// directed="false") gives both directions. Other data and attributes are ignored, whatever their
// declared type, so every spelling of a boolean (true, True, 1, ...) is accepted.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <unordered_map>

#include <expat.h>

#include "format_io.hpp"

namespace diffuser::graphs::detail {

namespace {

constexpr char kNamespaceSeparator = '\x01';

// The local part of an element or attribute name ("http://graphml...\x01node" -> "node").
std::string_view local(const XML_Char* name) {
  const std::string_view s(name);
  const auto sep = s.rfind(kNamespaceSeparator);
  return sep == std::string_view::npos ? s : s.substr(sep + 1);
}

const XML_Char* attribute(const XML_Char** atts, std::string_view name) {
  for (int i = 0; atts[i]; i += 2)
    if (local(atts[i]) == name) return atts[i + 1];
  return nullptr;
}

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// Endpoints are indices into the node table (ids interned as they are met), so an edge costs
// 16 bytes however long its ids are.
struct PendingEdge {
  std::uint32_t source = 0, target = 0;
  bool directed = true;
  std::int64_t line = 0;
};

struct NodeRecord {
  std::string xml_id;
  std::string node_id;  // text of its node_id data, if any
  bool has_node_id = false;
  bool declared = false;       // a <node> with this id exists (else only edges named it so far)
  std::int64_t line = 0;       // of its <node>
  std::size_t first_edge = 0;  // the first edge naming it, for the message if it is never declared
};

class GraphmlReader {
 public:
  GraphmlReader(const std::string& name, MaybeN n) : name_(name), n_(n) {
    parser_ = XML_ParserCreateNS(nullptr, kNamespaceSeparator);
    if (!parser_) throw Error(cat(name_, ": cannot create an XML parser (out of memory)"));
    XML_SetUserData(parser_, this);
    XML_SetElementHandler(parser_, &GraphmlReader::on_start, &GraphmlReader::on_end);
    XML_SetCharacterDataHandler(parser_, &GraphmlReader::on_text);
    // No DTDs: GraphML needs none, and entity declarations are how XML files blow up.
    XML_SetStartDoctypeDeclHandler(parser_, &GraphmlReader::on_doctype);
    XML_SetEntityDeclHandler(parser_, &GraphmlReader::on_entity);
  }
  ~GraphmlReader() { XML_ParserFree(parser_); }
  GraphmlReader(const GraphmlReader&) = delete;
  GraphmlReader& operator=(const GraphmlReader&) = delete;

  EdgeList read(std::string_view text) {
    // Expat takes int lengths: feed large files in pieces.
    constexpr std::size_t kPiece = 1 << 24;
    std::size_t at = 0;
    do {
      const std::size_t len = std::min(kPiece, text.size() - at);
      const bool last = at + len == text.size();
      if (XML_Parse(parser_, text.data() + at, static_cast<int>(len), last) == XML_STATUS_ERROR) {
        if (!error_.empty()) throw Error(error_);
        throw Error(cat(name_, ":", XML_GetCurrentLineNumber(parser_),
                        ": malformed GraphML: ", XML_ErrorString(XML_GetErrorCode(parser_))));
      }
      at += len;
    } while (at < text.size());
    if (!saw_root_) throw Error(cat(name_, ": not a GraphML file (no <graphml> element)"));
    return finish();
  }

 private:
  static void on_start(void* self, const XML_Char* name, const XML_Char** atts) {
    static_cast<GraphmlReader*>(self)->start(local(name), atts);
  }
  static void on_end(void* self, const XML_Char*) { static_cast<GraphmlReader*>(self)->end(); }
  static void on_text(void* self, const XML_Char* s, int len) {
    auto& r = *static_cast<GraphmlReader*>(self);
    if (r.in_node_id_data_) r.text_.append(s, static_cast<std::size_t>(len));
  }
  static void on_doctype(void* self, const XML_Char*, const XML_Char*, const XML_Char*, int) {
    static_cast<GraphmlReader*>(self)->stop("DOCTYPE declarations are not accepted in GraphML files");
  }
  static void on_entity(void* self, const XML_Char*, int, const XML_Char*, int, const XML_Char*,
                        const XML_Char*, const XML_Char*, const XML_Char*) {
    static_cast<GraphmlReader*>(self)->stop("entity declarations are not accepted in GraphML files");
  }

  // Records the first error and stops the parser; read() rethrows it.
  void stop(const std::string& what) {
    if (error_.empty()) error_ = cat(name_, ":", XML_GetCurrentLineNumber(parser_), ": ", what);
    XML_StopParser(parser_, XML_FALSE);
  }

  std::int64_t line() const { return static_cast<std::int64_t>(XML_GetCurrentLineNumber(parser_)); }

  // The node table index of an id, adding an undeclared entry the first time an edge names it.
  std::size_t intern(const XML_Char* id) {
    const auto [it, added] = xml_index_.emplace(id, nodes_.size());
    if (added) {
      NodeRecord r;
      r.xml_id = id;
      r.first_edge = edges_.size();
      nodes_.push_back(std::move(r));
    }
    return it->second;
  }

  void start(std::string_view el, const XML_Char** atts) {
    if (!error_.empty()) return;
    stack_.push_back(std::string(el));
    if (static_cast<int>(stack_.size()) > kMaxNesting)
      return stop(cat("elements nested more than ", kMaxNesting, " deep"));
    if (stack_.size() == 1) {
      if (el != "graphml") return stop(cat("the root element is <", excerpt(el), ">, not <graphml>"));
      saw_root_ = true;
      return;
    }
    const std::string_view parent = stack_[stack_.size() - 2];
    if (el == "key") {
      const XML_Char* id = attribute(atts, "id");
      const XML_Char* attr = attribute(atts, "attr.name");
      const XML_Char* domain = attribute(atts, "for");
      if (id && attr && std::string_view(attr) == "node_id" &&
          (!domain || std::string_view(domain) == "node" || std::string_view(domain) == "all"))
        node_id_keys_.push_back(id);
    } else if (el == "graph") {
      const XML_Char* def = attribute(atts, "edgedefault");
      graph_directed_.push_back(!def || std::string_view(def) != "undirected");
    } else if (el == "node") {
      if (graph_directed_.empty() || parent != "graph") return stop("a <node> outside a <graph>");
      const XML_Char* id = attribute(atts, "id");
      if (!id) return stop("a <node> without an id attribute");
      const std::size_t v = intern(id);
      if (nodes_[v].declared) return stop(cat("node id '", excerpt(id), "' is declared twice"));
      nodes_[v].declared = true;
      nodes_[v].line = line();
      open_nodes_.push_back(v);
    } else if (el == "edge") {
      if (graph_directed_.empty() || parent != "graph") return stop("an <edge> outside a <graph>");
      const XML_Char* s = attribute(atts, "source");
      const XML_Char* t = attribute(atts, "target");
      if (!s || !t) return stop("an <edge> without source and target attributes");
      bool directed = graph_directed_.back();
      if (const XML_Char* d = attribute(atts, "directed")) {
        const std::string v = lower_copy(trim(d));
        if (v == "true" || v == "1") {
          directed = true;
        } else if (v == "false" || v == "0") {
          directed = false;
        } else {
          return stop(cat("directed='", excerpt(d), "' is not a boolean (true, false, 1 or 0)"));
        }
      }
      if (edges_.size() >= std::numeric_limits<std::uint32_t>::max()) return stop("more than 2^32 edges");
      const auto a = static_cast<std::uint32_t>(intern(s)), b = static_cast<std::uint32_t>(intern(t));
      edges_.push_back({a, b, directed, line()});
    } else if (el == "hyperedge") {
      return stop("hyperedges are not supported (a token graph has edges between two nodes)");
    } else if (el == "data" && parent == "node") {
      const XML_Char* key = attribute(atts, "key");
      if (key && std::find(node_id_keys_.begin(), node_id_keys_.end(), key) != node_id_keys_.end()) {
        in_node_id_data_ = true;
        text_.clear();
      }
    }
  }

  void end() {
    if (!error_.empty() || stack_.empty()) return;
    const std::string el = std::move(stack_.back());
    stack_.pop_back();
    if (el == "graph") {
      graph_directed_.pop_back();
    } else if (el == "node") {
      open_nodes_.pop_back();
    } else if (el == "data" && in_node_id_data_) {
      in_node_id_data_ = false;
      NodeRecord& node = nodes_[open_nodes_.back()];  // a node_id <data> is a direct child of its node
      node.node_id = std::string(trim(text_));
      node.has_node_id = true;
    }
  }

  static std::string lower_copy(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  }

  EdgeList finish() {
    for (const auto& node : nodes_)
      if (!node.declared) {
        const PendingEdge& e = edges_[node.first_edge];
        throw Error(cat(name_, ":", e.line, ": the edge ", excerpt(nodes_[e.source].xml_id, 32), " -> ",
                        excerpt(nodes_[e.target].xml_id, 32), " names an undeclared node '",
                        excerpt(node.xml_id, 32), "' (every endpoint needs its <node>)"));
      }
    std::size_t with_id = 0;
    for (const auto& node : nodes_) with_id += node.has_node_id ? 1 : 0;
    if (with_id != 0 && with_id != nodes_.size())
      throw Error(cat(name_, ": ", with_id, " of ", nodes_.size(),
                      " nodes have a node_id; give it to all of them or to none"));
    const bool by_key = with_id != 0;
    const std::int64_t limit = n_ ? *n_ : kMaxNodes;
    std::vector<std::int32_t> ids(nodes_.size());
    std::int64_t max_id = -1;
    for (std::size_t v = 0; v < nodes_.size(); ++v) {
      const auto& node = nodes_[v];
      const std::string& text = by_key ? node.node_id : node.xml_id;
      const std::int64_t id = node_id_from_text(text, !by_key);
      if (id < 0)
        throw Error(cat(name_, ":", node.line, ": ", by_key ? "node_id '" : "node '", excerpt(text, 32),
                        "' is not an integer id (nodes must be named 0..N-1", by_key ? "" : " or n0..nN-1",
                        ")"));
      if (id >= limit) throw Error(cat(name_, ":", node.line, ": node ", id, " is outside [0, ", limit, ")"));
      ids[v] = static_cast<std::int32_t>(id);
      max_id = std::max(max_id, id);
    }
    EdgeList edges;
    std::size_t both_ways = 0;
    for (const auto& e : edges_) both_ways += e.directed ? 0 : 1;
    edges.src.reserve(edges_.size() + both_ways);
    edges.dst.reserve(edges_.size() + both_ways);
    for (const auto& e : edges_) {
      const std::int32_t a = ids[e.source], b = ids[e.target];
      edges.add(a, b);
      if (!e.directed && a != b) edges.add(b, a);
    }
    edges.n = n_ ? *n_ : max_id + 1;
    return edges;
  }

  const std::string& name_;
  MaybeN n_;
  XML_Parser parser_ = nullptr;
  std::string error_;
  bool saw_root_ = false;
  std::vector<std::string> stack_;
  std::vector<bool> graph_directed_;
  std::vector<std::string> node_id_keys_;
  std::vector<NodeRecord> nodes_;
  std::vector<std::size_t> open_nodes_;
  std::unordered_map<std::string, std::size_t> xml_index_;
  std::vector<PendingEdge> edges_;
  bool in_node_id_data_ = false;
  std::string text_;
};

void write_escaped_id(TextSink& sink, std::int64_t v) {
  sink << "n" << v;
}

}  // namespace

EdgeList parse_graphml(std::string_view text, const std::string& name, MaybeN n) {
  return GraphmlReader(name, n).read(text);
}

void write_graphml(const Csr& g, std::ostream& out) {
  TextSink sink(out);
  sink
      << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<!-- diffuser token graph: an edge source -> target means token target attends to token source "
         "-->\n"
         "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\" "
         "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
         "xsi:schemaLocation=\"http://graphml.graphdrawing.org/xmlns "
         "http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd\">\n"
         "  <key id=\"key0\" for=\"node\" attr.name=\"node_id\" attr.type=\"int\" />\n"
         "  <graph id=\"G\" edgedefault=\"directed\" parse.nodeids=\"canonical\" parse.edgeids=\"canonical\" "
         "parse.order=\"nodesfirst\">\n";
  for (std::int64_t v = 0; v < g.num_nodes(); ++v) {
    sink << "    <node id=\"";
    write_escaped_id(sink, v);
    sink << "\"><data key=\"key0\">" << v << "</data></node>\n";
  }
  std::int64_t e = 0;
  for (std::int64_t i = 0; i < g.num_nodes(); ++i)
    for (const auto j : g.neighbors(i)) {
      sink << "    <edge id=\"e" << e++ << "\" source=\"";
      write_escaped_id(sink, j);
      sink << "\" target=\"";
      write_escaped_id(sink, i);
      sink << "\" />\n";
    }
  sink << "  </graph>\n</graphml>\n";
}

}  // namespace diffuser::graphs::detail
