// Private to graphs/: every pattern term as a row generator. Row i of a term lists the sources j
// of its edges j -> i, so build_pattern can union terms row by row without an edge list.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <diffuser/engine/csr.hpp>
#include <diffuser/graphs/pattern.hpp>

namespace diffuser::graphs::detail {

// Rows are pure functions of (term, n, seed, i): thread count and visiting order never change
// the result. Both functions are called concurrently from many threads.
class RowTerm {
 public:
  virtual ~RowTerm() = default;
  // Exactly the number of values fill_row writes for row i.
  virtual std::int64_t row_size(std::int64_t i) const = 0;
  // Writes row i in ascending order. Duplicates are allowed only where may_repeat() says so.
  virtual void fill_row(std::int64_t i, std::int32_t* out) const = 0;
  // fill_row without the ordering guarantee, for edge lists (which need none); terms whose
  // sorting costs something skip it here.
  virtual void fill_row_unordered(std::int64_t i, std::int32_t* out) const { fill_row(i, out); }
  // A lower bound on every row's size after duplicates go, in O(1): lets build_pattern refuse a
  // hopeless job before it visits a single row.
  virtual std::int64_t min_row_size() const { return 0; }
  // True when rows may hold a source twice (random draws); the union step removes them.
  virtual bool may_repeat() const { return false; }
  // When row i is exactly the range [lo, hi), says so (fill_row would write lo, ..., hi-1): the
  // union step then splices the range in instead of merging it element by element.
  virtual bool row_range(std::int64_t /*i*/, std::int64_t& /*lo*/, std::int64_t& /*hi*/) const {
    return false;
  }
};

using RowTermPtr = std::unique_ptr<RowTerm>;

// One factory per family; each checks what needs n (ids < n, size limits). `spec` is only used
// in error messages.
RowTermPtr make_window(std::int64_t n, std::int64_t radius);
RowTermPtr make_blocks(std::int64_t n, std::int64_t width);
RowTermPtr make_dilated(std::int64_t n, std::int64_t radius, std::int64_t dilation);
RowTermPtr make_self(std::int64_t n);
RowTermPtr make_full(std::string_view spec, const PatternTerm& t, std::int64_t n);
// Global tokens at the given positions (any order, duplicates allowed).
RowTermPtr make_global(std::int64_t n, std::vector<std::int32_t> positions);
RowTermPtr make_random(std::int64_t n, std::int64_t per_row, std::uint64_t seed, std::uint64_t stream);
RowTermPtr make_block_random(std::int64_t n, std::int64_t block, std::int64_t random_blocks,
                             std::uint64_t seed, std::uint64_t stream);
RowTermPtr make_bigbird(std::int64_t n, std::int64_t block, std::int64_t random_blocks,
                        std::int64_t global_blocks, std::uint64_t seed, std::uint64_t stream);
// The rows of a graph given as edges (file: and plugin: terms).
RowTermPtr make_from_edges(const EdgeList& edges);

// G distinct positions in [0, n) (G clamped to n) by a partial Fisher-Yates shuffle on the
// counter-based generator, sorted ascending.
std::vector<std::int32_t> random_positions(std::int64_t n, std::int64_t count, std::uint64_t seed,
                                           std::uint64_t stream);

// The RowTerm of any parsed term: dispatches on t.name, reads files, runs plugins.
RowTermPtr make_row_term(std::string_view spec, const PatternTerm& t, std::int64_t n, std::uint64_t seed);

}  // namespace diffuser::graphs::detail
