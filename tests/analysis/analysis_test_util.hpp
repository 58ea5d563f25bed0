// Brute-force references for the analysis tests: hop distances by plain BFS, small random graphs
// with awkward features (empty rows, several components, self loops).
#pragma once

#include <cstdint>
#include <vector>

#include <diffuser/engine/csr.hpp>

namespace diffuser::test::analysis {

// d[i][j] = hops for token i to receive from token j (BFS over CSR rows from i), -1 if never.
std::vector<std::vector<std::int32_t>> brute_distances(const Csr& g);

// A random directed graph over n tokens: each token gets `k` random sources (no self loops unless
// `self`), then `isolated` tokens lose all edges and the graph is cut into `parts` independent
// ranges (no edge crosses a range boundary), all from `seed`.
Csr random_graph(std::int64_t n, int k, std::uint64_t seed, bool self = false, int parts = 1,
                 int isolated = 0);

}  // namespace diffuser::test::analysis
