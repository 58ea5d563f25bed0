// Token-graph patterns from expressions such as "blocks:64+random:64+global-random:64": terms
// joined by '+' (union), each seeded and reproducible (same spec, n and seed: same graph).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <diffuser/engine/csr.hpp>

namespace diffuser::graphs {

// Grammar (whitespace around a term is ignored, nowhere else):
//   spec   := term ('+' term)*
//   term   := name (':' param)*        params are decimal integers >= 0
//           | "global-at:" id (',' id)*
//           | "file:" PATH              PATH is the rest of the term (may contain ':')
//           | "plugin:" LIB [':' ARGS]  LIB runs to the next ':', ARGS is the rest of the term
// '+' always separates terms, so PATH, LIB and ARGS cannot contain it.
// "diffuser" and "diffuser:W:R:G" expand into their three terms before indices are counted, so
// "diffuser" builds exactly the graph of kDiffuserRecipe for the same seed.

// Builds the edges of `spec` over n tokens, unsorted and possibly with duplicates (Csr::from_edges
// sorts and deduplicates). Throws UsageError naming the term for an unknown term or bad number,
// Error for a file or plugin that cannot be read or emits bad edges.
EdgeList pattern_edges(std::string_view spec, std::int64_t n, std::uint64_t seed = 0);

// The same graph as Csr::from_edges(pattern_edges(spec, n, seed)), built row by row (each row is
// the sorted union of the terms' rows) without materialising the edge list: about half the
// memory and several times faster on large n.
Csr build_pattern(std::string_view spec, std::int64_t n, std::uint64_t seed = 0);

// The authors' recipe: overlapping blocks of 64 at stride 32, 64 random edges per token,
// 64 global tokens at random positions.
inline constexpr const char* kDiffuserRecipe = "blocks:64+random:64+global-random:64";

// One line per term for --help: "window:R   |i-j| <= R".
std::vector<std::string> pattern_help();

// One parsed term. Numbers are checked against the term's own rules (W even, G >= 1, ...);
// checks that need n (ids < n, full's size limit) and reading files happen when building.
struct PatternTerm {
  std::string text;                   // as written, trimmed; diffuser's parts: "blocks:64", ...
  std::string name;                   // "window", "global-at", "file", "plugin", ...
  std::vector<std::int64_t> params;   // the numbers in order; global-at: the ids
  std::string path;                   // file: and plugin: only
  std::string args;                   // plugin: only (empty when absent)
  std::size_t index = 0;              // position in the expanded expression
  std::uint64_t stream = 0;           // term_stream(index, name)
};

// Parses and checks `spec`; throws UsageError naming the term and the expression.
std::vector<PatternTerm> parse_pattern(std::string_view spec);

// The random stream of the term at `index` named `name`: rng::bits(seed, stream, k) is the
// term's k-th draw. Distinct for distinct (index, name), so "random:4+random:4" draws twice.
std::uint64_t term_stream(std::size_t index, std::string_view name);

}  // namespace diffuser::graphs
