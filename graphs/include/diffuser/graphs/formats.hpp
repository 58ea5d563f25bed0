// Graph files: text edge lists, Matrix Market, .npy (E, 2), GraphViz DOT and GraphML. The format
// follows the file extension. Readers name the file and line of the first problem they find.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <diffuser/engine/csr.hpp>

namespace diffuser::graphs {

// Every format stores edges src -> dst ("j -> i": token i attends to token j), ids 0..N-1. A graph
// is a sparsity pattern: values and attributes are checked and ignored, undirected inputs give both
// directions, duplicates collapse.
//  - edge list: "src dst" per line, '#' comments, blank lines; a third field is a weight (checked
//    to be a number, ignored) and a trailing "{...}" an attribute dict (networkx); diffuser writes
//    a "# nodes: N" header comment, which the reader honours before the first edge so trailing
//    isolated nodes survive a round trip.
//  - Matrix Market: coordinate pattern/real/integer, general/symmetric (values are checked to be
//    numbers and ignored, symmetric adds the mirror entries); entry (i, j) = A[i, j] = edge j -> i,
//    1-based.
//  - .npy: (E, 2) <i4/<i8 rows (src, dst). Holds no node count: pass n, or get largest id + 1.
//  - DOT: node names are the ids; "digraph" edges as written, undirected "graph" edges both ways;
//    edge groups ({0 1} -> 2) connect every node of one side to every node of the other; HTML
//    labels, quoted strings, ports and attributes are read and ignored; nesting <= 256.
//  - GraphML: ids from a node "node_id" data key (diffuser writes one), else from the node id
//    attribute ("5" or "n5"); edgedefault="undirected" or directed="false" (any boolean spelling)
//    gives both directions; an edge must name declared nodes; nesting <= 256, no DTD.
enum class GraphFormat { edge_list, matrix_market, npy, dot, graphml };

// By extension: .txt/.edges/.el -> edge list, .mtx, .npy, .dot/.gv, .graphml. Throws UsageError
// naming the path for anything else.
GraphFormat format_from_path(const std::filesystem::path& path);
const char* format_name(GraphFormat f);

// Reads the edges of a graph file. `n`: the number of nodes; when absent it comes from the file
// (Matrix Market size line) or is the largest id + 1. An id >= n is an error naming the file and
// line.
// Checks the memory budget for the graph (Csr::build_bytes) before returning.
EdgeList read_edges(const std::filesystem::path& path, std::optional<std::int64_t> n = std::nullopt);
// The same from a file's contents held in memory; `name` starts every message (the fuzz targets).
EdgeList parse_edges(GraphFormat format, std::string_view contents, const std::string& name,
                     std::optional<std::int64_t> n = std::nullopt);
Csr read_graph(const std::filesystem::path& path, std::optional<std::int64_t> n = std::nullopt);

// Writes atomically in the format of the extension.
void write_graph(const Csr& g, const std::filesystem::path& path);

}  // namespace diffuser::graphs
