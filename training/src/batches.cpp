#include <numeric>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/training/batches.hpp>

namespace diffuser::training {

SampleOrder::SampleOrder(std::int64_t count, std::uint64_t seed, bool shuffle)
    : count_(count), seed_(seed), shuffle_(shuffle) {
  DIFFUSER_CHECK(count > 0, "the training split holds no sequence");
}

std::int64_t SampleOrder::at(std::int64_t cursor) {
  const std::int64_t epoch = cursor / count_;
  if (!shuffle_) return cursor % count_;
  if (epoch != epoch_) {
    // Fisher-Yates from the epoch's own stream.
    perm_.resize(static_cast<std::size_t>(count_));
    std::iota(perm_.begin(), perm_.end(), 0);
    const std::uint64_t stream = rng::mix64(0x53485546464C45ull + static_cast<std::uint64_t>(epoch));
    for (std::int64_t i = count_ - 1; i > 0; --i) {
      const auto j = static_cast<std::int64_t>(
          rng::below(seed_, stream, static_cast<std::uint64_t>(i), static_cast<std::uint32_t>(i + 1)));
      std::swap(perm_[static_cast<std::size_t>(i)], perm_[static_cast<std::size_t>(j)]);
    }
    epoch_ = epoch;
  }
  return perm_[static_cast<std::size_t>(cursor % count_)];
}

std::vector<std::int64_t> SampleOrder::take(std::int64_t cursor, std::int64_t n) {
  std::vector<std::int64_t> out;
  for (std::int64_t k = 0; k < n; ++k) out.push_back(at(cursor + k));
  return out;
}

Batch make_batch(const Split& s, const std::vector<std::int64_t>& samples) {
  Batch b;
  b.samples = samples;
  for (auto i : samples) {
    const auto len = s.lengths[static_cast<std::size_t>(i)];
    b.ids.insert(b.ids.end(), s.row(i), s.row(i) + len);
    b.lengths.push_back(len);
    if (s.has_labels) b.labels.push_back(s.labels[static_cast<std::size_t>(i)]);
  }
  return b;
}

const attention::ModelGraphs& GraphCache::get(const attention::ModelConfig& c,
                                              const std::vector<std::int64_t>& lengths) {
  if (lengths != lengths_ || graphs_.graphs.empty()) {
    graphs_ = attention::ModelGraphs::build(c, lengths);
    lengths_ = lengths;
  }
  return graphs_;
}

}  // namespace diffuser::training
