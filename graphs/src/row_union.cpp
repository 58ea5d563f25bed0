// RowUnion: splice contiguous rows as ranges, merge the scattered ones (see row_union.hpp).
#include <algorithm>
#include <numeric>

#include "row_union.hpp"

namespace diffuser::graphs::detail {

std::int32_t* RowUnion::Scratch::reserve(std::int64_t size) {
  if (size > capacity) {
    capacity = std::max(size, capacity * 2);
    data.reset(new std::int32_t[static_cast<std::size_t>(capacity)]);
  }
  return data.get();
}

std::int64_t RowUnion::merge_lists(std::int64_t i) {
  std::int64_t size = 0;
  bool repeats = false;
  for (const auto& term : *terms_) {
    std::int64_t lo = 0, hi = 0;
    if (term->row_range(i, lo, hi)) {
      if (hi > lo) ranges_.emplace_back(lo, hi);
      continue;
    }
    const std::int64_t k = term->row_size(i);
    if (k == 0) continue;
    repeats = repeats || term->may_repeat();
    if (size == 0) {
      term->fill_row(i, list_.reserve(k));
      size = k;
      continue;
    }
    std::int32_t* t = term_.reserve(k);
    term->fill_row(i, t);
    // set_union keeps multiset counts; the unique() below removes them when a term may repeat.
    const std::int32_t* a = list_.data.get();
    std::int32_t* out = merged_.reserve(size + k);
    size = std::set_union(a, a + size, t, t + k, out) - out;
    std::swap(list_, merged_);
  }
  if (repeats && size > 0) size = std::unique(list_.data.get(), list_.data.get() + size) - list_.data.get();
  return size;
}

std::span<const std::int32_t> RowUnion::row(std::int64_t i) {
  ranges_.clear();
  const std::int64_t list_size = merge_lists(i);
  const std::int32_t* list = list_.data.get();
  if (ranges_.empty()) return {list, static_cast<std::size_t>(list_size)};

  // Disjoint ranges in order: sort, then fuse overlapping or touching ones.
  std::sort(ranges_.begin(), ranges_.end());
  std::size_t kept = 0;
  for (std::size_t r = 1; r < ranges_.size(); ++r) {
    if (ranges_[r].first <= ranges_[kept].second)
      ranges_[kept].second = std::max(ranges_[kept].second, ranges_[r].second);
    else
      ranges_[++kept] = ranges_[r];
  }
  ranges_.resize(kept + 1);

  std::int64_t total = list_size;
  for (const auto& [lo, hi] : ranges_) total += hi - lo;
  std::int32_t* out = out_.reserve(total);
  std::int32_t* w = out;
  const std::int32_t* p = list;
  const std::int32_t* end = list + list_size;
  for (const auto& [lo, hi] : ranges_) {
    // List entries before the range, the range itself, then skip list entries it covers.
    const std::int32_t* before = std::lower_bound(p, end, static_cast<std::int32_t>(lo));
    w = std::copy(p, before, w);
    std::iota(w, w + (hi - lo), static_cast<std::int32_t>(lo));
    w += hi - lo;
    p = std::lower_bound(before, end, static_cast<std::int32_t>(hi));
  }
  w = std::copy(p, end, w);
  return {out, static_cast<std::size_t>(w - out)};
}

}  // namespace diffuser::graphs::detail
