// Pattern terms with long-range edges: global tokens (fixed, random or listed), random edges and
// BigBird's block pattern. Randomness comes only from rng::below on the term's own stream.
#include <algorithm>
#include <numeric>
#include <unordered_map>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/engine/sys.hpp>

#include "row_terms.hpp"

namespace diffuser::graphs::detail {

namespace {

// A global token attends to every token, and every token attends to it: row g is everything,
// any other row is the sorted list of global tokens.
class Global final : public RowTerm {
 public:
  Global(std::int64_t n, std::vector<std::int32_t> positions) : n_(n), pos_(std::move(positions)) {
    std::sort(pos_.begin(), pos_.end());
    pos_.erase(std::unique(pos_.begin(), pos_.end()), pos_.end());
  }
  std::int64_t row_size(std::int64_t i) const override {
    return is_global(i) ? n_ : static_cast<std::int64_t>(pos_.size());
  }
  std::int64_t min_row_size() const override { return static_cast<std::int64_t>(pos_.size()); }
  void fill_row(std::int64_t i, std::int32_t* out) const override {
    if (is_global(i))
      std::iota(out, out + n_, 0);
    else
      std::copy(pos_.begin(), pos_.end(), out);
  }
  bool row_range(std::int64_t i, std::int64_t& lo, std::int64_t& hi) const override {
    lo = 0;
    hi = n_;
    return is_global(i);
  }

 private:
  bool is_global(std::int64_t i) const {
    return std::binary_search(pos_.begin(), pos_.end(), static_cast<std::int32_t>(i));
  }
  std::int64_t n_;
  std::vector<std::int32_t> pos_;
};

// Draw t of row i is rng::below(seed, stream, i*R + t, n): a pure function of its position, so
// rows can be generated in any order on any number of threads (or on a GPU) with equal results.
class Random final : public RowTerm {
 public:
  Random(std::int64_t n, std::int64_t r, std::uint64_t seed, std::uint64_t stream)
      : n_(n), r_(r), seed_(seed), stream_(stream) {}
  // At most n values a row: with more draws than tokens, only the distinct ones are kept.
  std::int64_t row_size(std::int64_t) const override { return std::min(r_, n_); }
  std::int64_t min_row_size() const override { return r_ > 0 ? 1 : 0; }
  void fill_row(std::int64_t i, std::int32_t* out) const override {
    fill_row_unordered(i, out);
    std::sort(out, out + std::min(r_, n_));
  }
  void fill_row_unordered(std::int64_t i, std::int32_t* out) const override {
    const auto base = static_cast<std::uint64_t>(i) * static_cast<std::uint64_t>(r_);
    const auto draw = [&](std::int64_t t) {
      return static_cast<std::int32_t>(
          rng::below(seed_, stream_, base + static_cast<std::uint64_t>(t), static_cast<std::uint32_t>(n_)));
    };
    if (r_ <= n_) {
      for (std::int64_t t = 0; t < r_; ++t) out[t] = draw(t);
      return;
    }
    // More draws than tokens (random:R with R > N): the same set of sources as all R draws, found
    // without holding R values and without drawing on once every token is in. The rest of the row
    // repeats a source (duplicates collapse), so the row has exactly row_size() values.
    std::vector<std::uint64_t> seen(static_cast<std::size_t>((n_ + 63) / 64), 0);
    std::int64_t have = 0;
    for (std::int64_t t = 0; t < r_ && have < n_; ++t) {
      const std::int32_t v = draw(t);
      std::uint64_t& word = seen[static_cast<std::size_t>(v) / 64];
      const std::uint64_t bit = std::uint64_t{1} << (v % 64);
      if (word & bit) continue;
      word |= bit;
      out[have++] = v;
    }
    std::fill(out + have, out + n_, out[0]);
  }
  bool may_repeat() const override { return true; }

 private:
  std::int64_t n_, r_;
  std::uint64_t seed_, stream_;
};

// BigBird at block granularity: query block b sees key blocks b-1, b, b+1, R random key blocks
// (the same for all tokens of b) and the first G blocks; a block among the first G sees all.
// Key-block lists are computed once per query block, so a row is a few interval copies.
class BigBird final : public RowTerm {
 public:
  BigBird(std::int64_t n, std::int64_t b, std::int64_t r, std::int64_t g, std::uint64_t seed,
          std::uint64_t stream)
      : n_(n), b_(b) {
    nb_ = (n + b - 1) / b;
    g_ = std::min(g, nb_);
    const std::int64_t per_block = std::min(3 + r, nb_);
    require_memory(static_cast<double>(nb_) * (4.0 * static_cast<double>(per_block) + 17.0),
                   cat("bigbird key-block lists (", nb_, " blocks of up to ", per_block, ")"));
    list_ptr_.assign(static_cast<std::size_t>(nb_ + 1), 0);
    row_size_.assign(static_cast<std::size_t>(nb_), 0);
    std::vector<std::int32_t> keys;
    // Each key block once; the draws stop once every block is in (R may be far larger than the
    // number of blocks: the draws, not a list of R entries, decide the set).
    std::vector<char> seen(static_cast<std::size_t>(nb_), 0);
    const auto add = [&](std::int64_t k) {
      if (seen[static_cast<std::size_t>(k)]) return;
      seen[static_cast<std::size_t>(k)] = 1;
      keys.push_back(static_cast<std::int32_t>(k));
    };
    for (std::int64_t q = 0; q < nb_; ++q) {
      keys.clear();
      if (q >= g_) {
        for (std::int64_t k = std::max<std::int64_t>(q - 1, 0); k <= std::min(q + 1, nb_ - 1); ++k) add(k);
        for (std::int64_t t = 0; t < r && static_cast<std::int64_t>(keys.size()) < nb_; ++t)
          add(rng::below(seed, stream, static_cast<std::uint64_t>(q * r + t),
                         static_cast<std::uint32_t>(nb_)));
        for (const auto k : keys) seen[static_cast<std::size_t>(k)] = 0;
        std::sort(keys.begin(), keys.end());
        // Global key blocks are written as one leading interval; drop them from the list.
        keys.erase(keys.begin(), std::lower_bound(keys.begin(), keys.end(), static_cast<std::int32_t>(g_)));
      }
      std::int64_t size = q < g_ ? n_ : std::min(g_ * b_, n_);
      if (q >= g_)
        for (const auto k : keys) size += block_end(k) - k * b_;
      row_size_[static_cast<std::size_t>(q)] = size;
      list_.insert(list_.end(), keys.begin(), keys.end());
      list_ptr_[static_cast<std::size_t>(q + 1)] = static_cast<std::int64_t>(list_.size());
    }
  }
  std::int64_t row_size(std::int64_t i) const override { return row_size_[static_cast<std::size_t>(i / b_)]; }
  bool row_range(std::int64_t i, std::int64_t& lo, std::int64_t& hi) const override {
    lo = 0;
    hi = n_;
    return i / b_ < g_;
  }
  void fill_row(std::int64_t i, std::int32_t* out) const override {
    const std::int64_t q = i / b_;
    if (q < g_) {
      std::iota(out, out + n_, 0);
      return;
    }
    const std::int64_t global_end = std::min(g_ * b_, n_);
    std::iota(out, out + global_end, 0);
    out += global_end;
    for (auto p = list_ptr_[static_cast<std::size_t>(q)]; p < list_ptr_[static_cast<std::size_t>(q + 1)];
         ++p) {
      const std::int64_t k = list_[static_cast<std::size_t>(p)];
      const std::int64_t len = block_end(k) - k * b_;
      std::iota(out, out + len, static_cast<std::int32_t>(k * b_));
      out += len;
    }
  }

 private:
  std::int64_t block_end(std::int64_t k) const { return std::min((k + 1) * b_, n_); }
  std::int64_t n_, b_, nb_ = 0, g_ = 0;
  std::vector<std::int64_t> list_ptr_, row_size_;
  std::vector<std::int32_t> list_;
};

// Random edges at block granularity: each aligned block q of B query rows draws R seeded random
// source blocks of B (duplicates collapse), and every row of q attends to all their tokens. A
// block of rows then shares all of its random sources, so on the GPU every 32-row tile of the
// recipe is dense and runs on tensor cores (B = 32), unlike token-level random:R.
class BlockRandom final : public RowTerm {
 public:
  BlockRandom(std::int64_t n, std::int64_t b, std::int64_t r, std::uint64_t seed, std::uint64_t stream)
      : n_(n), b_(b), r_(r), seed_(seed), stream_(stream), nb_((n + b - 1) / b) {}
  std::int64_t row_size(std::int64_t i) const override {
    std::int64_t size = 0;
    for (const auto k : blocks(i / b_)) size += std::min((k + 1) * b_, n_) - k * b_;
    return size;
  }
  void fill_row(std::int64_t i, std::int32_t* out) const override {
    for (const auto k : blocks(i / b_)) {
      const std::int64_t end = std::min((k + 1) * b_, n_);
      std::iota(out, out + (end - k * b_), static_cast<std::int32_t>(k * b_));
      out += end - k * b_;
    }
  }

 private:
  // The distinct source blocks of query block q, ascending. The draws stop once every block is in
  // (R may be far larger than the number of blocks: the draws, not a list of R entries, decide).
  std::vector<std::int64_t> blocks(std::int64_t q) const {
    std::vector<std::int64_t> k;
    for (std::int64_t t = 0; t < r_ && static_cast<std::int64_t>(k.size()) < nb_; ++t) {
      const std::int64_t b =
          rng::below(seed_, stream_, static_cast<std::uint64_t>(q * r_ + t), static_cast<std::uint32_t>(nb_));
      const auto at = std::lower_bound(k.begin(), k.end(), b);
      if (at == k.end() || *at != b) k.insert(at, b);
    }
    return k;
  }
  std::int64_t n_, b_, r_;
  std::uint64_t seed_, stream_;
  std::int64_t nb_;
};

}  // namespace

std::vector<std::int32_t> random_positions(std::int64_t n, std::int64_t count, std::uint64_t seed,
                                           std::uint64_t stream) {
  count = std::clamp<std::int64_t>(count, 0, n);
  std::vector<std::int32_t> out(static_cast<std::size_t>(count));
  // Partial Fisher-Yates: step t swaps slot t with a uniform slot in [t, n). Few steps touch few
  // slots, so a sparse map of displaced slots replaces the n-element array unless count is large.
  const auto step = [&](std::int64_t t) {
    return t + static_cast<std::int64_t>(rng::below(seed, stream, static_cast<std::uint64_t>(t),
                                                    static_cast<std::uint32_t>(n - t)));
  };
  if (count * 8 >= n) {
    std::vector<std::int32_t> slots(static_cast<std::size_t>(n));
    std::iota(slots.begin(), slots.end(), 0);
    for (std::int64_t t = 0; t < count; ++t)
      std::swap(slots[static_cast<std::size_t>(t)], slots[static_cast<std::size_t>(step(t))]);
    std::copy_n(slots.begin(), count, out.begin());
  } else {
    std::unordered_map<std::int64_t, std::int64_t> moved;
    const auto value_at = [&](std::int64_t k) {
      const auto it = moved.find(k);
      return it == moved.end() ? k : it->second;
    };
    for (std::int64_t t = 0; t < count; ++t) {
      const std::int64_t j = step(t);
      const std::int64_t vt = value_at(t), vj = value_at(j);
      out[static_cast<std::size_t>(t)] = static_cast<std::int32_t>(vj);
      moved[j] = vt;  // slot t is never read again, so only slot j needs recording
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

RowTermPtr make_global(std::int64_t n, std::vector<std::int32_t> positions) {
  return std::make_unique<Global>(n, std::move(positions));
}
RowTermPtr make_random(std::int64_t n, std::int64_t per_row, std::uint64_t seed, std::uint64_t stream) {
  return std::make_unique<Random>(n, per_row, seed, stream);
}
RowTermPtr make_block_random(std::int64_t n, std::int64_t block, std::int64_t random_blocks,
                             std::uint64_t seed, std::uint64_t stream) {
  return std::make_unique<BlockRandom>(n, block, random_blocks, seed, stream);
}
RowTermPtr make_bigbird(std::int64_t n, std::int64_t block, std::int64_t random_blocks,
                        std::int64_t global_blocks, std::uint64_t seed, std::uint64_t stream) {
  return std::make_unique<BigBird>(n, block, random_blocks, global_blocks, seed, stream);
}

}  // namespace diffuser::graphs::detail
