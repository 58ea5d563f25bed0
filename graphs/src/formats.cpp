// Graph file dispatch: the extension picks the format; writes go through a temporary file.
#include <algorithm>
#include <cctype>

#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/graphs/formats.hpp>

#include "format_io.hpp"

namespace diffuser::graphs {

GraphFormat format_from_path(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
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
    case GraphFormat::edge_list: return "edge list";
    case GraphFormat::matrix_market: return "Matrix Market";
    case GraphFormat::npy: return "npy";
    case GraphFormat::dot: return "GraphViz DOT";
    case GraphFormat::graphml: return "GraphML";
  }
  return "unknown";
}

EdgeList read_edges(const std::filesystem::path& path, std::optional<std::int64_t> n) {
  const auto format = format_from_path(path);
  if (n && (*n < 0 || *n > kMaxNodes))
    throw UsageError(cat(path.string(), ": number of nodes ", *n, " is outside [0, ", kMaxNodes, "]"));
  switch (format) {
    case GraphFormat::edge_list: return detail::read_edge_list(path, n);
    case GraphFormat::matrix_market: return detail::read_matrix_market(path, n);
    case GraphFormat::npy: return detail::read_npy_edges(path, n);
    case GraphFormat::dot: return detail::read_dot(path, n);
    case GraphFormat::graphml: return detail::read_graphml(path, n);
  }
  throw Error(cat(path.string(), ": unreadable format"));
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
    case GraphFormat::edge_list: detail::write_edge_list(g, out.stream()); break;
    case GraphFormat::matrix_market: detail::write_matrix_market(g, out.stream()); break;
    case GraphFormat::dot: detail::write_dot(g, out.stream()); break;
    case GraphFormat::graphml: detail::write_graphml(g, out.stream()); break;
    case GraphFormat::npy: break;
  }
  out.commit();
}

}  // namespace diffuser::graphs
