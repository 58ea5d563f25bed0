// Which units of work belong to one pass of a two-pass primitive (ops::RowPass): a row computed
// alone, or rows computed together (a panel chunk, a hub-row chunk), is the first pass's when all
// its rows are marked and the second pass's otherwise, so that every unit runs exactly once.
#pragma once

#include <cstdint>

#include <diffuser/engine/ops.hpp>

namespace diffuser::cpu {

class PassRows {
 public:
  explicit PassRows(const ops::RowPass& pass)
      : first_(pass.first.empty() ? nullptr : pass.first.data), second_(pass.second) {}

  // True when this pass computes every row (no split).
  bool all() const { return first_ == nullptr; }
  // Row i computed alone.
  bool row(std::int64_t i) const { return first_ == nullptr || (first_[i] != 0) != second_; }
  // The unit of rows[0 .. m).
  bool unit(const std::int64_t* rows, std::int64_t m) const {
    if (first_ == nullptr) return true;
    bool marked = true;
    for (std::int64_t r = 0; r < m && marked; ++r) marked = first_[rows[r]] != 0;
    return marked != second_;
  }

 private:
  const std::uint8_t* first_;
  bool second_;
};

}  // namespace diffuser::cpu
