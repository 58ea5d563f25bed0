// Dense panels (panel_plan.hpp): the per-graph plan of the ordinary chunks and of the hub-row
// chunks, kept in the graph's plans. Shared by every CPU level (and by the CUDA panel plan).
#include <algorithm>
#include <climits>
#include <string>
#include <utility>

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <diffuser/engine/error.hpp>

#include "../src/graph_plans_store.hpp"
#include "panel_plan.hpp"

namespace diffuser::cpu {

std::int64_t padded_rows(std::int64_t m) {
  return (m + 15) / 16 * 16;
}

std::int64_t PanelPlan::bytes() const {
  return static_cast<std::int64_t>(chunks.size() * sizeof(Chunk) + rows.size() * 8 + src.size() * 4 +
                                   pos.size() * 4 + rest_ptr.size() * 8 + rest.size() * 4);
}

PanelPlan build_panel_plan(const CsrView& g, const HubRows& hubs, std::int64_t R, std::int64_t share_pct,
                           std::int64_t hub_chunk_rows) {
  PanelPlan p;
  p.rows_per_chunk = R;
  p.hub_threshold = hubs.threshold;
  p.min_share_pct = share_pct;
  if (g.n == 0) return p;
  const std::int64_t nc = (g.n + R - 1) / R;
  struct Local {
    std::vector<std::int64_t> rows;
    std::vector<std::int32_t> src, pos, rest;
    std::vector<std::int64_t> rest_len;
    std::int64_t panel_edges = 0;
  };
  std::vector<Local> loc(static_cast<std::size_t>(nc));
  tbb::enumerable_thread_specific<std::vector<std::int32_t>> counters(
      [&] { return std::vector<std::int32_t>(static_cast<std::size_t>(g.n), 0); });
  tbb::parallel_for(
      tbb::blocked_range<std::int64_t>(0, nc, 8), [&](const tbb::blocked_range<std::int64_t>& range) {
        std::vector<std::int32_t>& cnt = counters.local();
        for (std::int64_t c = range.begin(); c < range.end(); ++c) {
          Local& L = loc[static_cast<std::size_t>(c)];
          const std::int64_t r0 = c * R, r1 = std::min(g.n, r0 + R);
          for (std::int64_t i = r0; i < r1; ++i)
            if (!hubs.is_hub(g, i)) L.rows.push_back(i);
          const auto m = static_cast<std::int64_t>(L.rows.size());
          if (m < 2) continue;
          const std::int64_t need = std::max<std::int64_t>(2, (m * share_pct + 99) / 100);
          for (const std::int64_t i : L.rows)
            for (std::int64_t e = g.row_ptr[i]; e < g.row_ptr[i + 1]; ++e) ++cnt[g.col[e]];
          for (const std::int64_t i : L.rows)
            for (std::int64_t e = g.row_ptr[i]; e < g.row_ptr[i + 1]; ++e) {
              const std::int32_t j = g.col[e];
              if (cnt[j] >= need) {
                L.src.push_back(j);
                cnt[j] = INT_MIN / 2;  // taken: not collected twice
              }
            }
          for (const std::int64_t i : L.rows)
            for (std::int64_t e = g.row_ptr[i]; e < g.row_ptr[i + 1]; ++e) cnt[g.col[e]] = 0;
          if (static_cast<std::int64_t>(L.src.size()) < kMinSources) {
            L.src.clear();
            continue;
          }
          std::sort(L.src.begin(), L.src.end());
          const auto S = static_cast<std::int64_t>(L.src.size());
          const std::int64_t base = g.row_ptr[L.rows.front()], span = g.row_ptr[L.rows.back() + 1] - base;
          if (span >= (std::int64_t{1} << 31) / 1024) {  // slot * H must fit int32 (H <= 1024)
            L.src.clear();
            continue;
          }
          const std::int64_t RP = padded_rows(m);
          L.pos.assign(static_cast<std::size_t>(S * RP), -1);
          for (std::int64_t r = 0; r < m; ++r) {
            const std::int64_t i = L.rows[static_cast<std::size_t>(r)], rb = g.row_ptr[i];
            std::int64_t t = 0, rest = 0;
            for (std::int64_t e = rb; e < g.row_ptr[i + 1]; ++e) {
              const std::int32_t j = g.col[e];
              while (t < S && L.src[static_cast<std::size_t>(t)] < j) ++t;
              if (t < S && L.src[static_cast<std::size_t>(t)] == j) {
                L.pos[static_cast<std::size_t>(t * RP + r)] = static_cast<std::int32_t>(e - base);
                ++L.panel_edges;
              } else {
                L.rest.push_back(static_cast<std::int32_t>(e - rb));
                ++rest;
              }
            }
            L.rest_len.push_back(rest);
          }
        }
      });
  // Concatenate the chunks' pieces.
  p.chunks.resize(static_cast<std::size_t>(nc));
  std::int64_t n_rows = 0, n_src = 0, n_pos = 0, n_rest = 0;
  for (std::int64_t c = 0; c < nc; ++c) {
    const Local& L = loc[static_cast<std::size_t>(c)];
    PanelPlan::Chunk& ch = p.chunks[static_cast<std::size_t>(c)];
    ch.rows_off = n_rows;
    ch.m = static_cast<std::int32_t>(L.rows.size());
    ch.S = static_cast<std::int32_t>(L.src.size());
    ch.src_off = n_src;
    ch.pos_off = n_pos;
    n_rows += ch.m;
    n_src += ch.S;
    n_pos += static_cast<std::int64_t>(L.pos.size());
    n_rest += static_cast<std::int64_t>(L.rest.size());
    p.panel_edges += L.panel_edges;
    p.panel_slots += static_cast<std::int64_t>(ch.m) * ch.S;
  }
  p.rows.reserve(static_cast<std::size_t>(n_rows));
  p.src.reserve(static_cast<std::size_t>(n_src));
  p.pos.reserve(static_cast<std::size_t>(n_pos));
  p.rest.reserve(static_cast<std::size_t>(n_rest));
  p.rest_ptr.reserve(static_cast<std::size_t>(n_rows + 1));
  p.rest_ptr.push_back(0);
  for (Local& L : loc) {
    p.rows.insert(p.rows.end(), L.rows.begin(), L.rows.end());
    p.src.insert(p.src.end(), L.src.begin(), L.src.end());
    p.pos.insert(p.pos.end(), L.pos.begin(), L.pos.end());
    p.rest.insert(p.rest.end(), L.rest.begin(), L.rest.end());
    if (L.src.empty()) {
      for (std::size_t r = 0; r < L.rows.size(); ++r) p.rest_ptr.push_back(p.rest_ptr.back());
    } else {
      for (const std::int64_t len : L.rest_len) p.rest_ptr.push_back(p.rest_ptr.back() + len);
    }
    L = Local{};
  }
  if (hub_chunk_rows > 0) build_hub_chunks(g, hubs, share_pct, hub_chunk_rows, p);
  // Panels pay when they cover a tenth of the edges or more; below that the per-row path is kept.
  p.worthwhile = p.panel_edges > 0 && p.panel_edges * 10 >= g.nnz;
  return p;
}

// ---------------------------------------------------------------------------------------------
// The plan of a graph: kept in the graph's plans (GraphPlans), else built for this call.

std::shared_ptr<const PanelPlan> panel_plan(const CsrView& g, const HubRows& hubs, const Tuning& tuning) {
  if (g.device != Device::cpu || g.n < 2 || g.nnz == 0 || !tuning.panels) return nullptr;
  const std::int64_t R = tuning.panel_rows == 16 ? 16 : 32;
  const std::int64_t share = tuning.panel_share_pct;
  const std::int64_t hub_rows = tuning.hub_panels ? tuning.hub_chunk_rows : 0;
  auto build = [&] {
    auto plan = std::make_shared<const PanelPlan>(build_panel_plan(g, hubs, R, share, hub_rows));
    const std::int64_t bytes = plan->bytes();
    return std::pair{std::move(plan), bytes};
  };
  std::shared_ptr<const PanelPlan> plan;
  if (g.plans != nullptr) {
    const std::string key =
        cat("cpu-panels rows=", R, " share=", share, " hubs>=", hubs.threshold, " hub-rows=", hub_rows);
    plan = g.plans->store().get<PanelPlan>(key, build);
  } else {
    plan = build().first;
  }
  return plan->worthwhile ? plan : nullptr;
}

void build_hub_chunks(const CsrView& g, const HubRows& hubs, std::int64_t share_pct, std::int64_t R,
                      PanelPlan& p) {
  const auto nh = static_cast<std::int64_t>(hubs.rows.size());
  if (nh == 0) return;
  const std::int64_t nc = (nh + R - 1) / R;  // balanced chunks
  std::vector<PanelPlan::Chunk> chunks;
  std::vector<std::int32_t> src, pos, rest;
  std::vector<std::int64_t> rest_len;
  std::vector<std::int32_t> cnt(static_cast<std::size_t>(g.n), 0);
  std::int64_t hub_edges = 0, panel_edges = 0, slots = 0;
  for (std::int64_t c = 0; c < nc; ++c) {
    const std::int64_t h0 = nh * c / nc, h1 = nh * (c + 1) / nc, m = h1 - h0;
    const std::int64_t* rows = hubs.rows.data() + h0;
    const std::int64_t need = std::max<std::int64_t>(1, (m * share_pct + 99) / 100);
    PanelPlan::Chunk ch;
    ch.rows_off = static_cast<std::int64_t>(p.rows.size()) + h0;
    ch.m = static_cast<std::int32_t>(m);
    ch.src_off = static_cast<std::int64_t>(p.src.size() + src.size());
    ch.pos_off = static_cast<std::int64_t>(p.pos.size() + pos.size());
    for (std::int64_t r = 0; r < m; ++r)
      for (std::int64_t e = g.row_ptr[rows[r]]; e < g.row_ptr[rows[r] + 1]; ++e) ++cnt[g.col[e]];
    const std::size_t s_first = src.size();
    for (std::int64_t j = 0; j < g.n; ++j)  // ascending
      if (cnt[j] >= need) src.push_back(static_cast<std::int32_t>(j));
    std::fill(cnt.begin(), cnt.end(), 0);
    const std::int32_t* cs = src.data() + s_first;
    const auto S = static_cast<std::int64_t>(src.size() - s_first);
    ch.S = static_cast<std::int32_t>(S);
    const std::int64_t RP = padded_rows(m);
    const std::size_t p_first = pos.size();
    pos.resize(p_first + static_cast<std::size_t>(S * RP), -1);
    for (std::int64_t r = 0; r < m; ++r) {
      const std::int64_t rb = g.row_ptr[rows[r]], re = g.row_ptr[rows[r] + 1];
      std::int64_t t = 0, n_rest = 0;
      hub_edges += re - rb;
      for (std::int64_t e = rb; e < re; ++e) {
        const std::int32_t j = g.col[e];
        while (t < S && cs[t] < j) ++t;
        if (t < S && cs[t] == j) {
          pos[p_first + static_cast<std::size_t>(t * RP + r)] = static_cast<std::int32_t>(e - rb);
          ++panel_edges;
        } else {
          rest.push_back(static_cast<std::int32_t>(e - rb));
          ++n_rest;
        }
      }
      rest_len.push_back(n_rest);
    }
    slots += m * S;
    chunks.push_back(ch);
  }
  // The panels pay when they hold most of the hub edges; else the hub path keeps them.
  if (panel_edges * 2 < hub_edges) return;
  p.rows.insert(p.rows.end(), hubs.rows.begin(), hubs.rows.end());
  p.src.insert(p.src.end(), src.begin(), src.end());
  p.pos.insert(p.pos.end(), pos.begin(), pos.end());
  p.rest.insert(p.rest.end(), rest.begin(), rest.end());
  for (const std::int64_t len : rest_len) p.rest_ptr.push_back(p.rest_ptr.back() + len);
  p.hub_chunks = std::move(chunks);
  p.hub_panel_edges = panel_edges;
  p.panel_edges += panel_edges;
  p.panel_slots += slots;
}

}  // namespace diffuser::cpu
