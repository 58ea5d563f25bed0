// Which samples a step sees, and the batch they make. The order is a pure function of (seed,
// cursor): epoch e is a seeded permutation of the split (the identity without shuffling), and
// sample `cursor` of the run is element cursor mod S of epoch cursor / S. So a resumed run draws
// exactly what the uninterrupted run would, from its cursor alone.
#pragma once

#include <cstdint>
#include <vector>

#include <diffuser/attention/config.hpp>
#include <diffuser/attention/model.hpp>
#include <diffuser/training/dataset.hpp>

namespace diffuser::training {

class SampleOrder {
 public:
  SampleOrder(std::int64_t count, std::uint64_t seed, bool shuffle);
  // The sample index at position `cursor` of the run (caches the permutation of its epoch).
  std::int64_t at(std::int64_t cursor);
  std::vector<std::int64_t> take(std::int64_t cursor, std::int64_t n);
  std::int64_t count() const { return count_; }

 private:
  std::int64_t count_;
  std::uint64_t seed_;
  bool shuffle_;
  std::int64_t epoch_ = -1;
  std::vector<std::int64_t> perm_;
};

// Sequences of a split side by side (block-diagonal: each keeps its own length, no padding).
struct Batch {
  std::vector<std::int32_t> ids, labels;  // ids: every real token of the batch in order
  std::vector<std::int64_t> lengths, samples;
  std::int64_t tokens() const { return static_cast<std::int64_t>(ids.size()); }
};
Batch make_batch(const Split& s, const std::vector<std::int64_t>& samples);

// The graphs of a batch, reused while the sequence lengths stay the same (a data set of one
// length builds its graphs once).
class GraphCache {
 public:
  const attention::ModelGraphs& get(const attention::ModelConfig& c,
                                    const std::vector<std::int64_t>& lengths);

 private:
  std::vector<std::int64_t> lengths_;
  attention::ModelGraphs graphs_;
};

}  // namespace diffuser::training
