// Scores and softmax in one pass on the CPU: each row's scores are normalised while still in cache.
#include "isa_begin.hpp"  // first: the shared headers, then the level's target

#include "hub_kernels.hpp"
#include "kernels.hpp"
#include "panels_kernels.hpp"
#include "row_kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

void Kernels::edge_attention(const CsrView& g, const Tuning& tuning, Tensor3View<const float> q,
                             Tensor3View<const float> k, float scale, Span<const std::uint8_t> mask,
                             MatrixView<float> weights, const ops::RowPass& pass) {
  const PassRows in_pass(pass);
  dispatch_head_dim(q.d, [&]<int D>() {
    const HubRows hubs = D > 0 ? find_hub_rows(g, tuning) : HubRows{};
    if constexpr (D > 0) {
      if (const auto plan = panel_plan(g, hubs, tuning)) {  // rows sharing sources: dense panels
        panel_edge_attention<D>(g, *plan, q, k, scale, mask.data, weights.data, in_pass);
        if (!panel_hub_edge_attention<D>(g, *plan, q, k, scale, mask.data, weights.data, in_pass))
          attention_hub_rows<D>(g, hubs, q, k, scale, mask.data, weights.data, in_pass);
        return;
      }
    }
    for_each_row_chunk(g, 8, [&](std::int64_t r0, std::int64_t r1) {
      Buffer<float> scratch(softmax_scratch_floats(q.h));
      for (std::int64_t i = r0; i < r1; ++i) {
        if (hubs.is_hub(g, i) || !in_pass.row(i)) continue;
        const auto b = g.row_ptr[i], e = g.row_ptr[i + 1];
        if constexpr (D > 0)
          score_row<D>(q.row(i), q.stride_h, k.data, k.stride_n, k.stride_h, g.col, b, e, q.h, scale,
                       weights.data);
        else
          score_row_any(q.row(i), q.stride_h, k.data, k.stride_n, k.stride_h, g.col, b, e, q.h, q.d, scale,
                        weights.data);
        softmax_row(weights.data, b, e, q.h, g.col, mask.data, i, scratch.data());
      }
    });
    if constexpr (D > 0) attention_hub_rows<D>(g, hubs, q, k, scale, mask.data, weights.data, in_pass);
  });
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "isa_end.hpp"
