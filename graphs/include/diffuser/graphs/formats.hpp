// Graph files: text edge lists, Matrix Market, .npy (E, 2), GraphViz DOT and GraphML. The format
// follows the file extension. Readers name the file and line of the first problem they find.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <diffuser/engine/csr.hpp>

namespace diffuser::graphs {

enum class GraphFormat { edge_list, matrix_market, npy, dot, graphml };

// By extension: .txt/.edges/.el -> edge list, .mtx, .npy, .dot/.gv, .graphml. Throws UsageError
// naming the path for anything else.
GraphFormat format_from_path(const std::filesystem::path& path);
const char* format_name(GraphFormat f);

// Reads the edges of a graph file. `n`: the number of nodes; when absent it comes from the file
// (Matrix Market size line, GraphML/DOT node count) or is the largest id + 1. An id >= n is an
// error naming the file and line.
EdgeList read_edges(const std::filesystem::path& path, std::optional<std::int64_t> n = std::nullopt);
Csr read_graph(const std::filesystem::path& path, std::optional<std::int64_t> n = std::nullopt);

// Writes atomically in the format of the extension.
void write_graph(const Csr& g, const std::filesystem::path& path);

}  // namespace diffuser::graphs
