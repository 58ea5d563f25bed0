// Hub rows: rows whose in-degree is far above the mean (a global token attends to every token).
// Gathering them one by one streams all of X once per hub row; computing them together streams X
// once per batch of hubs, tile by tile, while the tile's rows sit in L2.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include <tbb/parallel_for.h>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/tensor.hpp>

#include "tuning.hpp"

namespace diffuser::cpu {

struct HubRows {
  std::int64_t threshold = 0;      // rows with degree >= threshold are hubs (0: no hub path)
  std::vector<std::int64_t> rows;  // ascending

  bool is_hub(const CsrView& g, std::int64_t i) const {
    return threshold > 0 && g.row_ptr[i + 1] - g.row_ptr[i] >= threshold;
  }
};

// Hubs are rows with degree >= max(1024, 8 x mean degree); none for small graphs or when the
// tuning turns the hub path off. A tuning threshold overrides the rule (degree >= T; tests).
HubRows find_hub_rows(const CsrView& g, const Tuning& tuning);

// Fixed, so results do not depend on the thread count.
inline constexpr int kHubSegments = 16;
inline constexpr std::int64_t kHubTile = 256;  // sources per tile (~768 KB of rows at H*D = 768)
inline constexpr std::int64_t kHubBatch = 64;  // hub rows accumulated together

namespace hub_detail {

// Calls body(batch_rows, segment, src_lo, src_hi, edge_ranges) for every (batch, segment) in
// parallel, where edge_ranges(t0, t1, r) yields the edges of hub r with sources in [t0, t1).
template <class Body>
void for_each_hub_tile(const CsrView& g, const std::vector<std::int64_t>& batch, Body&& body) {
  tbb::parallel_for(0, kHubSegments, [&](int s) {
    const std::int64_t lo = g.n * s / kHubSegments, hi = g.n * (s + 1) / kHubSegments;
    std::vector<std::int64_t> cursor(batch.size()), stop(batch.size());
    for (std::size_t r = 0; r < batch.size(); ++r) {
      const auto* first = g.col + g.row_ptr[batch[r]];
      const auto* last = g.col + g.row_ptr[batch[r] + 1];
      cursor[r] = std::lower_bound(first, last, lo) - g.col;
      stop[r] = std::lower_bound(first, last, hi) - g.col;
    }
    for (std::int64_t t0 = lo; t0 < hi; t0 += kHubTile) {
      const std::int64_t t1 = std::min(t0 + kHubTile, hi);
      for (std::size_t r = 0; r < batch.size(); ++r) {
        std::int64_t e = cursor[r];
        while (e < stop[r] && g.col[e] < t1) ++e;
        if (e > cursor[r]) body(s, r, cursor[r], e);
        cursor[r] = e;
      }
    }
  });
}

}  // namespace hub_detail

}  // namespace diffuser::cpu
