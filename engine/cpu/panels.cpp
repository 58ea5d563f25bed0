// Dense panels (panel_plan.hpp): the drivers of the fused hop and the fused scores + softmax over
// the ordinary chunks, at one CPU level (kernels: panels_kernels.hpp; hub rows: panels_hub.cpp).
#include "isa_begin.hpp"  // first: the shared headers, then the level's target

#include "panels_kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

using namespace panel_detail;

template <int D>
void panel_gather_axpby(const CsrView& g, const PanelPlan& plan, const float* w, float a,
                        Tensor3View<const float> x, float b, Tensor3View<const float> y,
                        Tensor3View<float> out, const PassRows& in_pass) {
  const std::int64_t H = x.h, HD = x.h * D;
  for_each_chunk(plan, [&](const PanelPlan::Chunk& ch) {
    const std::int64_t* rows = plan.rows.data() + ch.rows_off;
    const std::int64_t m = ch.m;
    if (ch.S == 0) {  // no panel: the per-row path
      float* acc = thread_scratch(0, static_cast<std::size_t>(HD));
      for (std::int64_t r = 0; r < m; ++r) {
        const std::int64_t i = rows[r];
        if (!in_pass.row(i)) continue;
        gather_row<D>(w, H, x.data, x.stride_n, x.stride_h, g.col, g.row_ptr[i], g.row_ptr[i + 1], a,
                      out.row(i), out.stride_h, b, b != 0.0f ? y.row(i) : nullptr, y.stride_h, acc);
      }
      return;
    }
    if (!in_pass.unit(rows, m)) return;
    const std::int64_t S = ch.S, RP = padded_rows(m);
    const std::int32_t* src = plan.src.data() + ch.src_off;
    float* acc = thread_scratch(0, static_cast<std::size_t>(m * HD));
    const std::int64_t HS = kSourceBlock * RP + 16;  // per-head stride of the packed tile (no 4K aliasing)
    float* wt = thread_scratch(1, static_cast<std::size_t>(H * HS + S * RP));
    auto* slot_h = reinterpret_cast<std::int32_t*>(wt + H * HS);
    scale_slots(plan.pos.data() + ch.pos_off, S * RP, H, slot_h);
    const float* wb[64];  // the chunk's slots are relative to its first row's first edge
    std::fill(wb, wb + RP, w + g.row_ptr[rows[0]] * H);
    for (std::int64_t s0 = 0; s0 < S; s0 += kSourceBlock) {
      const std::int64_t ns = std::min(kSourceBlock, S - s0);
      pack_weights(wb, slot_h, s0, ns, RP, H, wt, HS);
      for (std::int64_t h = 0; h < H; ++h)
        panel_hop_head<D>(wt + h * HS, RP, ns, x.data + h * x.stride_h, x.stride_n, src + s0, m, acc + h * D,
                          HD, s0 > 0);
    }
    for (std::int64_t r = 0; r < m; ++r) {
      const std::int64_t i = rows[r], t = ch.rows_off + r;
      float* ar = acc + r * HD;
      accumulate_list<D>(w, H, x.data, x.stride_n, x.stride_h, g.col, g.row_ptr[i],
                         plan.rest.data() + plan.rest_ptr[t], plan.rest_ptr[t + 1] - plan.rest_ptr[t], ar);
      finish_row<D>(ar, H, a, out.row(i), out.stride_h, b, b != 0.0f ? y.row(i) : nullptr, y.stride_h);
    }
  });
}

template <int D>
void panel_edge_attention(const CsrView& g, const PanelPlan& plan, Tensor3View<const float> q,
                          Tensor3View<const float> k, float scale, const std::uint8_t* mask, float* w,
                          const PassRows& in_pass) {
  const std::int64_t H = q.h;
  for_each_chunk(plan, [&](const PanelPlan::Chunk& ch) {
    const std::int64_t* rows = plan.rows.data() + ch.rows_off;
    const std::int64_t m = ch.m;
    if (ch.S > 0 && !in_pass.unit(rows, m)) return;
    float* sm = thread_scratch(0, static_cast<std::size_t>(softmax_scratch_floats(H)));
    if (ch.S > 0) {
      const std::int64_t S = ch.S, RP = padded_rows(m);
      const std::int64_t HS = (kSourceBlock + kScoreRegs) * RP + 16;  // per-head stride of the score tile
      const std::int32_t* src = plan.src.data() + ch.src_off;
      float* qt = thread_scratch(1, static_cast<std::size_t>(H * D * RP + H * HS + S * RP));
      float* tile = qt + H * D * RP;
      auto* slot_h = reinterpret_cast<std::int32_t*>(tile + H * HS);
      scale_slots(plan.pos.data() + ch.pos_off, S * RP, H, slot_h);
      float* wb[64];
      std::fill(wb, wb + RP, w + g.row_ptr[rows[0]] * H);
      transpose_queries<D>(q, rows, m, RP, qt);
      panel_scores<D>(qt, RP, k, src, S, tile, HS, wb, slot_h, scale);
    }
    for (std::int64_t r = 0; r < m; ++r) {
      const std::int64_t i = rows[r], t = ch.rows_off + r, b = g.row_ptr[i], e = g.row_ptr[i + 1];
      if (ch.S == 0 && !in_pass.row(i)) continue;
      if (ch.S > 0)
        score_list<D>(q.row(i), q.stride_h, k.data, k.stride_n, k.stride_h, g.col, b,
                      plan.rest.data() + plan.rest_ptr[t], plan.rest_ptr[t + 1] - plan.rest_ptr[t], H, scale,
                      w);
      else
        score_row<D>(q.row(i), q.stride_h, k.data, k.stride_n, k.stride_h, g.col, b, e, H, scale, w);
      softmax_row(w, b, e, H, g.col, mask, i, sm);
    }
  });
}

#define DIFFUSER_PANEL_INSTANTIATE(D)                                                                 \
  template void panel_gather_axpby<D>(const CsrView&, const PanelPlan&, const float*, float,          \
                                      Tensor3View<const float>, float, Tensor3View<const float>,      \
                                      Tensor3View<float>, const PassRows&);                           \
  template void panel_edge_attention<D>(const CsrView&, const PanelPlan&, Tensor3View<const float>,   \
                                        Tensor3View<const float>, float, const std::uint8_t*, float*, \
                                        const PassRows&);
DIFFUSER_PANEL_INSTANTIATE(16)
DIFFUSER_PANEL_INSTANTIATE(32)
DIFFUSER_PANEL_INSTANTIATE(64)
DIFFUSER_PANEL_INSTANTIATE(128)
#undef DIFFUSER_PANEL_INSTANTIATE

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "isa_end.hpp"
