// Text edge lists: "src dst" per line, 0-based, '#' starts a comment, blank lines allowed. A third
// field is a weight (networkx's write_weighted_edgelist) and a trailing "{...}" the attribute dict
// of networkx's default write_edgelist ("0 1 {'weight': 2.0}"): both are checked and ignored, as
// Matrix Market values are. diffuser's writer adds a "# nodes: N" comment so isolated trailing
// nodes survive a round trip.
#include <algorithm>

#include "format_io.hpp"

namespace diffuser::graphs::detail {

namespace {

constexpr std::string_view kNodesTag = "# nodes:";

// The declared node count of a "# nodes: N" comment line, if that is what the line is.
MaybeN nodes_comment(std::string_view line) {
  if (line.substr(0, kNodesTag.size()) != kNodesTag) return std::nullopt;
  std::string_view f[2];
  if (split_fields(line.substr(kNodesTag.size()), f, 2) != 1) return std::nullopt;
  std::int64_t v = 0;
  if (!parse_int(f[0], v) || v < 0 || v > kMaxNodes) return std::nullopt;
  return v;
}

// Splits off a trailing attribute dict "{...}" (networkx); false when a '{' is not closed at the end.
bool strip_attributes(std::string_view& line) {
  const auto open = line.find('{');
  if (open == std::string_view::npos) return true;
  const auto close = line.find_last_not_of(" \t");
  if (line[close] != '}') return false;
  line = line.substr(0, open);
  return true;
}

}  // namespace

EdgeList parse_edge_list(std::string_view text, const std::string& name, MaybeN n) {
  LineReader in(text, name);
  EdgeList edges;
  MaybeN declared;
  std::int64_t max_id = -1;
  std::string_view line;
  while (in.next(line)) {
    if (edges.src.empty() && !declared) declared = nodes_comment(line);  // only a header counts
    if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    if (!strip_attributes(line)) in.fail("an attribute dict '{...}' must end the line");
    std::string_view f[3];
    const int count = split_fields(line, f, 3);
    if (count == 0) continue;
    if (count < 2 || count > 3)
      in.fail(cat("expected 'src dst' or 'src dst weight', found ", count, " field", count == 1 ? "" : "s"));
    if (count == 3 && !is_number(f[2])) in.fail(cat("weight '", excerpt(f[2]), "' is not a number"));
    const MaybeN limit = n ? n : declared;
    std::int64_t id[2];
    for (int k = 0; k < 2; ++k) {
      if (!parse_int(f[k], id[k])) in.fail(cat("'", excerpt(f[k]), "' is not an integer id"));
      if (id[k] < 0) in.fail(cat("negative id ", id[k]));
      if (limit && id[k] >= *limit)
        in.fail(cat("id ", id[k], " is outside [0, ", *limit, ")",
                    n ? " for the requested number of nodes" : ""));
      if (id[k] >= kMaxNodes) in.fail(cat("id ", id[k], " is too large (at most ", kMaxNodes - 1, ")"));
    }
    edges.add(static_cast<std::int32_t>(id[0]), static_cast<std::int32_t>(id[1]));
    max_id = std::max({max_id, id[0], id[1]});
  }
  edges.n = resolve_node_count(in.path(), n, declared, max_id);
  return edges;
}

void write_edge_list(const Csr& g, std::ostream& out) {
  TextSink sink(out);
  sink << "# diffuser edge list: 'src dst' per line, 0-based; dst attends to src\n";
  sink << kNodesTag << " " << g.num_nodes() << "\n# edges: " << g.num_edges() << "\n";
  for (std::int64_t i = 0; i < g.num_nodes(); ++i)
    for (const auto j : g.neighbors(i)) sink << std::int64_t{j} << " " << i << "\n";
}

}  // namespace diffuser::graphs::detail
