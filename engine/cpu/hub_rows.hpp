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

#include "row_kernels.hpp"

namespace diffuser::cpu {

struct HubRows {
  std::int64_t threshold = 0;      // rows with degree >= threshold are hubs (0: no hub path)
  std::vector<std::int64_t> rows;  // ascending

  bool is_hub(const CsrView& g, std::int64_t i) const {
    return threshold > 0 && g.row_ptr[i + 1] - g.row_ptr[i] >= threshold;
  }
};

// Hubs are rows with degree >= max(1024, 8 x mean degree); none for small graphs.
// DIFFUSER_HUB_THRESHOLD=T overrides the rule (degree >= T; tests).
HubRows find_hub_rows(const CsrView& g);

// Fixed, so results do not depend on the thread count.
inline constexpr int kHubSegments = 16;
inline constexpr std::int64_t kHubTile = 256;  // sources per tile (~768 KB of rows at H*D = 768)
inline constexpr std::int64_t kHubBatch = 64;  // hub rows accumulated together

namespace detail {

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

}  // namespace detail

// out_r = a * sum_e w_e x_src + b * y_r for every hub row r (partials per segment, summed in a
// fixed order).
template <int D>
void gather_hub_rows(const CsrView& g, const HubRows& hubs, const float* w, Tensor3View<const float> x,
                     float a, float b, Tensor3View<const float> y, Tensor3View<float> out) {
  const std::int64_t H = x.h, HD = x.h * D;
  for (std::size_t first = 0; first < hubs.rows.size(); first += kHubBatch) {
    const std::vector<std::int64_t> batch(
        hubs.rows.begin() + static_cast<std::ptrdiff_t>(first),
        hubs.rows.begin() + static_cast<std::ptrdiff_t>(std::min(first + kHubBatch, hubs.rows.size())));
    const auto nb = static_cast<std::int64_t>(batch.size());
    Buffer<float> partial(kHubSegments * nb * HD);
    partial.zero();
    detail::for_each_hub_tile(g, batch, [&](int s, std::size_t r, std::int64_t e0, std::int64_t e1) {
      float* acc = partial.data() + (s * nb + static_cast<std::int64_t>(r)) * HD;
      accumulate_edges<D>(w, H, x.data, x.stride_n, x.stride_h, g.col, e0, e1, acc);
    });
    tbb::parallel_for(std::int64_t{0}, nb, [&](std::int64_t r) {
      float* acc = partial.data() + r * HD;  // segment 0's partial collects the others
      for (int s = 1; s < kHubSegments; ++s) {
        const float* p = partial.data() + (s * nb + r) * HD;
        for (std::int64_t t = 0; t < HD; ++t) acc[t] += p[t];
      }
      const std::int64_t i = batch[static_cast<std::size_t>(r)];
      finish_row<D>(acc, H, a, out.row(i), out.stride_h, b, b != 0.0f ? y.row(i) : nullptr, y.stride_h);
    });
  }
}

// Scores of every hub row's edges, tile by tile, then each hub row's softmax.
template <int D>
void attention_hub_rows(const CsrView& g, const HubRows& hubs, Tensor3View<const float> q,
                        Tensor3View<const float> k, float scale, const std::uint8_t* mask, float* w) {
  const std::int64_t H = q.h;
  for (std::size_t first = 0; first < hubs.rows.size(); first += kHubBatch) {
    const std::vector<std::int64_t> batch(
        hubs.rows.begin() + static_cast<std::ptrdiff_t>(first),
        hubs.rows.begin() + static_cast<std::ptrdiff_t>(std::min(first + kHubBatch, hubs.rows.size())));
    detail::for_each_hub_tile(g, batch, [&](int, std::size_t r, std::int64_t e0, std::int64_t e1) {
      score_row<D>(q.row(batch[r]), q.stride_h, k.data, k.stride_n, k.stride_h, g.col, e0, e1, H, scale, w);
    });
    tbb::parallel_for(std::size_t{0}, batch.size(), [&](std::size_t r) {
      Buffer<float> scratch(softmax_scratch_floats(H));
      const std::int64_t i = batch[r];
      softmax_row(w, g.row_ptr[i], g.row_ptr[i + 1], H, g.col, mask, i, scratch.data());
    });
  }
}

}  // namespace diffuser::cpu
