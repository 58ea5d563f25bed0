// Graph file dispatch: the extension picks the format; writes go through a temporary file.
#include <algorithm>
#include <cctype>

#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/graphs/formats.hpp>

#include "format_io.hpp"

namespace diffuser::graphs {

GraphFormat format_from_path(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".txt" || ext == ".edges" || ext == ".el") return GraphFormat::edge_list;
  if (ext == ".mtx") return GraphFormat::matrix_market;
  if (ext == ".npy") return GraphFormat::npy;
  if (ext == ".dot" || ext == ".gv") return GraphFormat::dot;
  if (ext == ".graphml") return GraphFormat::graphml;
  throw UsageError(cat(path.string(), ": unknown graph format '", ext,
                       "' (use .txt/.edges/.el, .mtx, .npy, .dot/.gv or .graphml)"));
}

const char* format_name(GraphFormat f) {
  switch (f) {
    case GraphFormat::edge_list:
      return "edge list";
    case GraphFormat::matrix_market:
      return "Matrix Market";
    case GraphFormat::npy:
      return "npy";
    case GraphFormat::dot:
      return "GraphViz DOT";
    case GraphFormat::graphml:
      return "GraphML";
  }
  return "unknown";
}

EdgeList parse_edges(GraphFormat format, std::string_view contents, const std::string& name,
                     std::optional<std::int64_t> n) {
  if (n && (*n < 0 || *n > kMaxNodes))
    throw UsageError(cat(name, ": number of nodes ", *n, " is outside [0, ", kMaxNodes, "]"));
  EdgeList edges;
  switch (format) {
    case GraphFormat::edge_list:
      edges = detail::parse_edge_list(contents, name, n);
      break;
    case GraphFormat::matrix_market:
      edges = detail::parse_matrix_market(contents, name, n);
      break;
    case GraphFormat::npy:
      edges = detail::parse_npy_edges(contents, name, n);
      break;
    case GraphFormat::dot:
      edges = detail::parse_dot(contents, name, n);
      break;
    case GraphFormat::graphml:
      edges = detail::parse_graphml(contents, name, n);
      break;
  }
  detail::require_graph_memory(name, edges.n, edges.size(), n ? "as requested" : "the largest id + 1");
  return edges;
}

EdgeList read_edges(const std::filesystem::path& path, std::optional<std::int64_t> n) {
  const auto format = format_from_path(path);
  if (n && (*n < 0 || *n > kMaxNodes))
    throw UsageError(cat(path.string(), ": number of nodes ", *n, " is outside [0, ", kMaxNodes, "]"));
  if (format == GraphFormat::npy) {  // binary, read in place rather than as text
    EdgeList edges = detail::read_npy_edges(path, n);
    detail::require_graph_memory(path.string(), edges.n, edges.size(),
                                 n ? "as requested" : "the largest id + 1");
    return edges;
  }
  return parse_edges(format, detail::read_text_file(path), path.string(), n);
}

Csr read_graph(const std::filesystem::path& path, std::optional<std::int64_t> n) {
  return Csr::from_edges(read_edges(path, n));
}

void write_graph(const Csr& g, const std::filesystem::path& path) {
  const auto format = format_from_path(path);
  DIFFUSER_CHECK(g.device() == Device::cpu, path.string(), ": graphs are written from the CPU");
  if (format == GraphFormat::npy) return detail::write_npy_edges(g, path);  // npy::save is atomic itself
  AtomicOutput out(path, /*binary=*/true);
  switch (format) {
    case GraphFormat::edge_list:
      detail::write_edge_list(g, out.stream());
      break;
    case GraphFormat::matrix_market:
      detail::write_matrix_market(g, out.stream());
      break;
    case GraphFormat::dot:
      detail::write_dot(g, out.stream());
      break;
    case GraphFormat::graphml:
      detail::write_graphml(g, out.stream());
      break;
    case GraphFormat::npy:
      break;
  }
  out.commit();
}

}  // namespace diffuser::graphs
