// Bitset primitives for multi-source breadth-first search (exact reachability): `words` 64-bit
// words per node, one bit per source, so one pass over the graph advances 64 * words searches.
#pragma once

#include <cstdint>

#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/tensor.hpp>

namespace diffuser::ops {

// Layout of every bitset: node-major, node i's words at [i * words, (i + 1) * words).

// Pull pass: next[i * words + w] = OR over the sources j of row i of frontier[j * words + w].
// Rows with no edge get zeros. frontier and next hold g.n * words words on the graph's device and
// must not overlap.
void frontier_pull(const CsrView& g, Span<const std::uint64_t> frontier, Span<std::uint64_t> next,
                   std::int64_t words);

// Advance after a pull: per node i (n = new_counts.size), new = next & ~visited; visited |= new;
// frontier = new; new_counts[i] = the number of bits set in node i's new words. next, visited and
// frontier hold n * words words, all on one device, none overlapping another.
void frontier_advance(Span<const std::uint64_t> next, Span<std::uint64_t> visited,
                      Span<std::uint64_t> frontier, std::int64_t words, Span<std::int64_t> new_counts);

}  // namespace diffuser::ops
