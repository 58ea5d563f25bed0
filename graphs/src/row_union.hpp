// Private to graphs/: the union of several terms' rows, one row at a time. Rows that are one
// contiguous range (window, blocks, self, global tokens' rows) are spliced in as ranges; only the
// scattered rows (random, global lists, files) are merged element by element.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "row_terms.hpp"

namespace diffuser::graphs::detail {

// Holds scratch space: one instance per thread (not thread-safe), reused for every row.
class RowUnion {
 public:
  explicit RowUnion(const std::vector<RowTermPtr>& terms) : terms_(&terms) {}
  // Row i of the union, sorted and without duplicates; valid until the next call.
  std::span<const std::int32_t> row(std::int64_t i);

 private:
  // A growable int32 array that, unlike std::vector::resize, never zero-fills.
  struct Scratch {
    std::unique_ptr<std::int32_t[]> data;
    std::int64_t capacity = 0;
    std::int32_t* reserve(std::int64_t size);
  };
  // Merges the scattered rows into list_ (sorted, unique); returns its length.
  std::int64_t merge_lists(std::int64_t i);

  const std::vector<RowTermPtr>* terms_;
  Scratch list_, term_, merged_, out_;
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges_;
};

}  // namespace diffuser::graphs::detail
