// The hub rows' kernels (hub_rows.hpp): X streamed once per batch of hub rows, tile by tile.
#pragma once

#include "row_kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

// The hub rows of this pass (each hub row is a unit: its sums do not depend on its batch).
inline std::vector<std::int64_t> hub_rows_in(const HubRows& hubs, const PassRows& in_pass) {
  if (in_pass.all()) return hubs.rows;
  std::vector<std::int64_t> rows;
  for (const std::int64_t i : hubs.rows)
    if (in_pass.row(i)) rows.push_back(i);
  return rows;
}

// out_r = a * sum_e w_e x_src + b * y_r for every hub row r of the pass (partials per segment,
// summed in a fixed order).
template <int D>
void gather_hub_rows(const CsrView& g, const HubRows& hubs, const float* w, Tensor3View<const float> x,
                     float a, float b, Tensor3View<const float> y, Tensor3View<float> out,
                     const PassRows& in_pass) {
  const std::int64_t H = x.h, HD = x.h * D;
  const std::vector<std::int64_t> hub_rows = hub_rows_in(hubs, in_pass);
  for (std::size_t first = 0; first < hub_rows.size(); first += kHubBatch) {
    const std::vector<std::int64_t> batch(
        hub_rows.begin() + static_cast<std::ptrdiff_t>(first),
        hub_rows.begin() + static_cast<std::ptrdiff_t>(std::min(first + kHubBatch, hub_rows.size())));
    const auto nb = static_cast<std::int64_t>(batch.size());
    Buffer<float> partial(kHubSegments * nb * HD);
    partial.zero();
    hub_detail::for_each_hub_tile(g, batch, [&](int s, std::size_t r, std::int64_t e0, std::int64_t e1) {
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

// Scores of every hub row's edges (of the pass), tile by tile, then each hub row's softmax.
template <int D>
void attention_hub_rows(const CsrView& g, const HubRows& hubs, Tensor3View<const float> q,
                        Tensor3View<const float> k, float scale, const std::uint8_t* mask, float* w,
                        const PassRows& in_pass) {
  const std::int64_t H = q.h;
  const std::vector<std::int64_t> hub_rows = hub_rows_in(hubs, in_pass);
  for (std::size_t first = 0; first < hub_rows.size(); first += kHubBatch) {
    const std::vector<std::int64_t> batch(
        hub_rows.begin() + static_cast<std::ptrdiff_t>(first),
        hub_rows.begin() + static_cast<std::ptrdiff_t>(std::min(first + kHubBatch, hub_rows.size())));
    hub_detail::for_each_hub_tile(g, batch, [&](int, std::size_t r, std::int64_t e0, std::int64_t e1) {
      score_row<D>(q.row(batch[r]), q.stride_h, k.data, k.stride_n, k.stride_h, g.col, e0, e1, H, scale, w);
    });
    tbb::parallel_for(std::size_t{0}, batch.size(), [&](std::size_t r) {
      Buffer<float> scratch(softmax_scratch_floats(H));
      const std::int64_t i = batch[r];
      softmax_row(w, g.row_ptr[i], g.row_ptr[i + 1], H, g.col, mask, i, scratch.data());
    });
  }
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS
