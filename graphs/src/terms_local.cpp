// Local pattern terms, each row a closed-form set: window, blocks, dilated, self, full.
#include <algorithm>
#include <numeric>
#include <tuple>

#include <diffuser/engine/error.hpp>

#include "row_terms.hpp"

namespace diffuser::graphs::detail {

namespace {

void fill_range(std::int32_t* out, std::int64_t lo, std::int64_t hi) {
  std::iota(out, out + (hi - lo), static_cast<std::int32_t>(lo));
}

class Window final : public RowTerm {
 public:
  Window(std::int64_t n, std::int64_t r) : n_(n), r_(r) {}
  std::int64_t row_size(std::int64_t i) const override { return hi(i) - lo(i); }
  std::int64_t min_row_size() const override { return std::min(n_, r_ + 1); }
  void fill_row(std::int64_t i, std::int32_t* out) const override { fill_range(out, lo(i), hi(i)); }
  bool row_range(std::int64_t i, std::int64_t& a, std::int64_t& b) const override {
    a = lo(i);
    b = hi(i);
    return true;
  }

 private:
  std::int64_t lo(std::int64_t i) const { return std::max<std::int64_t>(0, i - r_); }
  std::int64_t hi(std::int64_t i) const { return std::min(n_, i + r_ + 1); }
  std::int64_t n_, r_;
};

// The authors' numpy code makes blocks [s, min(s+W, n)) for s in arange(0, max(n-W/2, 1), W/2)
// and links every pair inside a block. The blocks holding token i are consecutive and overlap,
// so row i is one interval: from the first such block's start to the last one's end. That gives
// each row without the duplicate pairs the overlaps would produce.
class Blocks final : public RowTerm {
 public:
  Blocks(std::int64_t n, std::int64_t w) : n_(n), w_(w), half_(w / 2) {
    const std::int64_t stop = std::max<std::int64_t>(n - half_, 1);
    num_starts_ = (stop + half_ - 1) / half_;
  }
  std::int64_t min_row_size() const override { return 1; }  // every token is in a block
  std::int64_t row_size(std::int64_t i) const override {
    const auto [lo, hi] = range(i);
    return hi - lo;
  }
  void fill_row(std::int64_t i, std::int32_t* out) const override {
    const auto [lo, hi] = range(i);
    fill_range(out, lo, hi);
  }
  bool row_range(std::int64_t i, std::int64_t& lo, std::int64_t& hi) const override {
    std::tie(lo, hi) = range(i);
    return true;
  }

 private:
  std::pair<std::int64_t, std::int64_t> range(std::int64_t i) const {
    const std::int64_t k_hi = std::min(i / half_, num_starts_ - 1);  // last block starting at or before i
    const std::int64_t k_lo = i < w_ ? 0 : (i - w_) / half_ + 1;     // first block ending after i
    if (k_lo > k_hi) return {0, 0};  // unreachable for W >= 2; kept so a bug cannot write garbage
    return {k_lo * half_, std::min(k_hi * half_ + w_, n_)};
  }
  std::int64_t n_, w_, half_, num_starts_ = 0;
};

class Dilated final : public RowTerm {
 public:
  Dilated(std::int64_t n, std::int64_t r, std::int64_t g) : n_(n), r_(r), g_(g) {}
  std::int64_t min_row_size() const override { return 1; }
  std::int64_t row_size(std::int64_t i) const override { return below(i) + 1 + above(i); }
  void fill_row(std::int64_t i, std::int32_t* out) const override {
    for (std::int64_t t = below(i); t >= 1; --t) *out++ = static_cast<std::int32_t>(i - t * g_);
    *out++ = static_cast<std::int32_t>(i);
    const std::int64_t up = above(i);
    for (std::int64_t t = 1; t <= up; ++t) *out++ = static_cast<std::int32_t>(i + t * g_);
  }

 private:
  // How many steps of G fit below and above i, capped at R.
  std::int64_t below(std::int64_t i) const { return std::min(r_, i / g_); }
  std::int64_t above(std::int64_t i) const { return std::min(r_, (n_ - 1 - i) / g_); }
  std::int64_t n_, r_, g_;
};

class Self final : public RowTerm {
 public:
  std::int64_t row_size(std::int64_t) const override { return 1; }
  std::int64_t min_row_size() const override { return 1; }
  void fill_row(std::int64_t i, std::int32_t* out) const override { *out = static_cast<std::int32_t>(i); }
  bool row_range(std::int64_t i, std::int64_t& lo, std::int64_t& hi) const override {
    lo = i;
    hi = i + 1;
    return true;
  }
};

class Full final : public RowTerm {
 public:
  explicit Full(std::int64_t n) : n_(n) {}
  std::int64_t row_size(std::int64_t) const override { return n_; }
  std::int64_t min_row_size() const override { return n_; }
  void fill_row(std::int64_t, std::int32_t* out) const override { fill_range(out, 0, n_); }
  bool row_range(std::int64_t, std::int64_t& lo, std::int64_t& hi) const override {
    lo = 0;
    hi = n_;
    return true;
  }

 private:
  std::int64_t n_;
};

}  // namespace

RowTermPtr make_window(std::int64_t n, std::int64_t radius) {
  return std::make_unique<Window>(n, radius);
}
RowTermPtr make_blocks(std::int64_t n, std::int64_t width) {
  return std::make_unique<Blocks>(n, width);
}
RowTermPtr make_dilated(std::int64_t n, std::int64_t radius, std::int64_t dilation) {
  return std::make_unique<Dilated>(n, radius, dilation);
}
RowTermPtr make_self(std::int64_t) {
  return std::make_unique<Self>();
}

RowTermPtr make_full(std::string_view spec, const PatternTerm& t, std::int64_t n) {
  // Beyond 2^31 pairs the dense pattern is the wrong tool: say so instead of exhausting memory.
  constexpr std::int64_t kLimit = std::int64_t{1} << 31;
  if (n > kLimit / n)
    throw Error(cat("pattern '", spec, "': term '", t.text, "': ", n, " tokens make ", n, "^2 = ", n * n,
                    " edges, over the limit of 2^31 for 'full'", " (use a sparse pattern)"));
  return std::make_unique<Full>(n);
}

}  // namespace diffuser::graphs::detail
