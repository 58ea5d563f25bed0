// Dense panels of the hub rows (see panel_plan.hpp): the hub rows of a graph (e.g. the recipe's 64
// global tokens, each attending to every token) share nearly all of their sources, so a group of
// them is one wide panel: R = up to 32 hub rows x S = their shared sources (those in at least half
// of the group's rows), computed with the panel GEMM kernels of panels_kernels.hpp (plan: panel_plan.cpp).
// The sources of a hub chunk are cut into kHubSegments fixed segments (parallel tasks); the hop sums the
// segments' partials in a fixed order, so results do not depend on the thread count.
#include "isa_begin.hpp"  // first: the shared headers, then the level's target

#include "panels_kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

using namespace panel_detail;

namespace {

// Source segment s of a hub chunk: its sources [lo, hi).
inline std::pair<std::int64_t, std::int64_t> segment(const PanelPlan::Chunk& ch, std::int64_t s) {
  return {ch.S * s / kHubSegments, ch.S * (s + 1) / kHubSegments};
}

// Whether hub chunk ch is a unit of this pass.
inline bool chunk_in_pass(const PanelPlan& plan, const PanelPlan::Chunk& ch, const PassRows& in_pass) {
  return in_pass.unit(plan.rows.data() + ch.rows_off, ch.m);
}

// Calls body(chunk, segment) for every (hub chunk of the pass, source segment), in parallel.
template <class Body>
void for_each_hub_task(const PanelPlan& plan, const PassRows& in_pass, Body&& body) {
  const auto tasks = static_cast<std::int64_t>(plan.hub_chunks.size()) * kHubSegments;
  tbb::parallel_for(
      tbb::blocked_range<std::int64_t>(0, tasks, 1),
      [&](const tbb::blocked_range<std::int64_t>& r) {
        for (std::int64_t t = r.begin(); t < r.end(); ++t) {
          const PanelPlan::Chunk& ch = plan.hub_chunks[static_cast<std::size_t>(t / kHubSegments)];
          if (chunk_in_pass(plan, ch, in_pass)) body(ch, t % kHubSegments);
        }
      },
      tbb::simple_partitioner());
}

// Calls body(chunk, r) for every row of every hub chunk of the pass, in parallel.
template <class Body>
void for_each_hub_row(const PanelPlan& plan, const PassRows& in_pass, Body&& body) {
  const auto n = static_cast<std::int64_t>(plan.hub_chunks.size()) * 64;
  tbb::parallel_for(std::int64_t{0}, n, [&](std::int64_t t) {
    const PanelPlan::Chunk& ch = plan.hub_chunks[static_cast<std::size_t>(t / 64)];
    const std::int64_t r = t % 64;
    if (r < ch.m && chunk_in_pass(plan, ch, in_pass)) body(ch, r);
  });
}

}  // namespace

template <int D>
bool panel_hub_gather_axpby(const CsrView& g, const PanelPlan& plan, const float* w, float a,
                            Tensor3View<const float> x, float b, Tensor3View<const float> y,
                            Tensor3View<float> out, const PassRows& in_pass) {
  if (plan.hub_chunks.empty()) return false;
  const std::int64_t H = x.h, HD = x.h * D;
  const std::int64_t first = plan.hub_chunks.front().rows_off;
  const auto n_rows = static_cast<std::int64_t>(plan.rows.size()) - first;
  // partial[((rows_off - first) * kHubSegments + s * m + r) * HD]: segment s of row r of a chunk.
  const std::unique_ptr<float[]> partial(new float[static_cast<std::size_t>(n_rows * kHubSegments * HD)]);
  auto part = [&](const PanelPlan::Chunk& ch, std::int64_t s) {
    return partial.get() + ((ch.rows_off - first) * kHubSegments + s * ch.m) * HD;
  };
  for_each_hub_task(plan, in_pass, [&](const PanelPlan::Chunk& ch, std::int64_t s) {
    const std::int64_t m = ch.m, RP = padded_rows(m);
    const auto [lo, hi] = segment(ch, s);
    float* acc = part(ch, s);
    if (hi == lo) {
      std::fill(acc, acc + m * HD, 0.0f);
      return;
    }
    const std::int64_t* rows = plan.rows.data() + ch.rows_off;
    const std::int64_t HS = kSourceBlock * RP + 16;
    float* wt = thread_scratch(1, static_cast<std::size_t>(H * HS + (hi - lo) * RP));
    auto* slot_h = reinterpret_cast<std::int32_t*>(wt + H * HS);
    scale_slots(plan.pos.data() + ch.pos_off + lo * RP, (hi - lo) * RP, H, slot_h);
    const float* wb[64];
    for (std::int64_t r = 0; r < RP; ++r) wb[r] = w + g.row_ptr[rows[std::min(r, m - 1)]] * H;
    const std::int32_t* src = plan.src.data() + ch.src_off + lo;
    for (std::int64_t s0 = 0; s0 < hi - lo; s0 += kSourceBlock) {
      const std::int64_t ns = std::min(kSourceBlock, hi - lo - s0);
      pack_weights(wb, slot_h, s0, ns, RP, H, wt, HS);
      for (std::int64_t h = 0; h < H; ++h)
        panel_hop_head<D>(wt + h * HS, RP, ns, x.data + h * x.stride_h, x.stride_n, src + s0, m, acc + h * D,
                          HD, s0 > 0);
    }
  });
  for_each_hub_row(plan, in_pass, [&](const PanelPlan::Chunk& ch, std::int64_t r) {
    float* acc = part(ch, 0) + r * HD;  // segment 0's partial collects the others, in order
    for (std::int64_t s = 1; s < kHubSegments; ++s) {
      const float* ps = part(ch, s) + r * HD;
      for (std::int64_t t = 0; t < HD; ++t) acc[t] += ps[t];
    }
    const std::int64_t t = ch.rows_off + r, i = plan.rows[static_cast<std::size_t>(t)];
    accumulate_list<D>(w, H, x.data, x.stride_n, x.stride_h, g.col, g.row_ptr[i],
                       plan.rest.data() + plan.rest_ptr[t], plan.rest_ptr[t + 1] - plan.rest_ptr[t], acc);
    finish_row<D>(acc, H, a, out.row(i), out.stride_h, b, b != 0.0f ? y.row(i) : nullptr, y.stride_h);
  });
  return true;
}

template <int D>
bool panel_hub_edge_attention(const CsrView& g, const PanelPlan& plan, Tensor3View<const float> q,
                              Tensor3View<const float> k, float scale, const std::uint8_t* mask, float* w,
                              const PassRows& in_pass) {
  if (plan.hub_chunks.empty()) return false;
  const std::int64_t H = q.h;
  for_each_hub_task(plan, in_pass, [&](const PanelPlan::Chunk& ch, std::int64_t s) {
    const std::int64_t m = ch.m, RP = padded_rows(m);
    const auto [lo, hi] = segment(ch, s);
    if (hi == lo) return;
    const std::int64_t* rows = plan.rows.data() + ch.rows_off;
    const std::int64_t HS = (kSourceBlock + kScoreRegs) * RP + 16;
    float* qt = thread_scratch(1, static_cast<std::size_t>(H * D * RP + H * HS + (hi - lo) * RP));
    float* tile = qt + H * D * RP;
    auto* slot_h = reinterpret_cast<std::int32_t*>(tile + H * HS);
    scale_slots(plan.pos.data() + ch.pos_off + lo * RP, (hi - lo) * RP, H, slot_h);
    float* wb[64];
    for (std::int64_t r = 0; r < RP; ++r) wb[r] = w + g.row_ptr[rows[std::min(r, m - 1)]] * H;
    transpose_queries<D>(q, rows, m, RP, qt);
    panel_scores<D>(qt, RP, k, plan.src.data() + ch.src_off + lo, hi - lo, tile, HS, wb, slot_h, scale);
  });
  for_each_hub_row(plan, in_pass, [&](const PanelPlan::Chunk& ch, std::int64_t r) {
    const std::int64_t t = ch.rows_off + r, i = plan.rows[static_cast<std::size_t>(t)];
    const std::int64_t b = g.row_ptr[i], e = g.row_ptr[i + 1];
    score_list<D>(q.row(i), q.stride_h, k.data, k.stride_n, k.stride_h, g.col, b,
                  plan.rest.data() + plan.rest_ptr[t], plan.rest_ptr[t + 1] - plan.rest_ptr[t], H, scale, w);
    float* sm = thread_scratch(0, static_cast<std::size_t>(softmax_scratch_floats(H)));
    softmax_row(w, b, e, H, g.col, mask, i, sm);
  });
  return true;
}

#define DIFFUSER_HUB_PANEL_INSTANTIATE(D)                                                                 \
  template bool panel_hub_gather_axpby<D>(const CsrView&, const PanelPlan&, const float*, float,          \
                                          Tensor3View<const float>, float, Tensor3View<const float>,      \
                                          Tensor3View<float>, const PassRows&);                           \
  template bool panel_hub_edge_attention<D>(const CsrView&, const PanelPlan&, Tensor3View<const float>,   \
                                            Tensor3View<const float>, float, const std::uint8_t*, float*, \
                                            const PassRows&);
DIFFUSER_HUB_PANEL_INSTANTIATE(16)
DIFFUSER_HUB_PANEL_INSTANTIATE(32)
DIFFUSER_HUB_PANEL_INSTANTIATE(64)
DIFFUSER_HUB_PANEL_INSTANTIATE(128)
#undef DIFFUSER_HUB_PANEL_INSTANTIATE

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "isa_end.hpp"
