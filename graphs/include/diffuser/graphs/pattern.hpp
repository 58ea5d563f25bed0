// Token-graph patterns from expressions such as "blocks:64+random:64+global-random:64": terms
// joined by '+' (union), each seeded and reproducible (same spec, n and seed: same graph).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <diffuser/engine/csr.hpp>

namespace diffuser::graphs {

// Builds the edges of `spec` over n tokens, unsorted and possibly with duplicates (Csr::from_edges
// sorts and deduplicates). Throws UsageError naming the term for an unknown term or bad number,
// Error for a file or plugin that cannot be read or emits bad edges.
EdgeList pattern_edges(std::string_view spec, std::int64_t n, std::uint64_t seed = 0);

// pattern_edges + Csr::from_edges.
Csr build_pattern(std::string_view spec, std::int64_t n, std::uint64_t seed = 0);

// The authors' recipe: overlapping blocks of 64 at stride 32, 64 random edges per token,
// 64 global tokens at random positions.
inline constexpr const char* kDiffuserRecipe = "blocks:64+random:64+global-random:64";

// One line per term for --help: "window:R   |i-j| <= R".
std::vector<std::string> pattern_help();

}  // namespace diffuser::graphs
