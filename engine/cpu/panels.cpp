// Dense panels (see panels.hpp): the per-graph plan, its cache, and the drivers of the fused hop and
// the fused scores + softmax over the ordinary chunks (kernels: panels_kernels.hpp; hub rows:
// panels_hub.cpp).
#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <immintrin.h>

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include "panels_kernels.hpp"

namespace diffuser::cpu {

using namespace panel_detail;

namespace {

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

std::int64_t env_int(const char* name, std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long long x = std::strtoll(v, &end, 10);
  if (end == v || *end != '\0' || x < lo || x > hi) return fallback;
  return x;
}

}  // namespace

std::int64_t padded_rows(std::int64_t m) {
  return (m + 15) / 16 * 16;
}

std::int64_t PanelPlan::bytes() const {
  return static_cast<std::int64_t>(chunks.size() * sizeof(Chunk) + rows.size() * 8 + src.size() * 4 +
                                   pos.size() * 4 + rest_ptr.size() * 8 + rest.size() * 4);
}

PanelPlan build_panel_plan(const CsrView& g, const HubRows& hubs, std::int64_t R, std::int64_t share_pct) {
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
  if (!env_flag("DIFFUSER_NO_HUB_PANELS")) build_hub_chunks(g, hubs, share_pct, p);
  // Panels pay when they cover a tenth of the edges or more; below that the per-row path is kept.
  p.worthwhile = p.panel_edges > 0 && p.panel_edges * 10 >= g.nnz;
  return p;
}

// ---------------------------------------------------------------------------------------------
// The plan cache.

namespace {

struct Snapshot {  // immutable once published
  const std::int64_t* row_ptr_key;
  const std::int32_t* col_key;
  std::int64_t n, nnz, hub_threshold, rows_per_chunk, share_pct;
  bool hub_panels;
  std::vector<std::int64_t> row_ptr;  // copies of the graph, compared on every lookup
  std::vector<std::int32_t> col;
  std::shared_ptr<const PanelPlan> plan;
};

struct PlanCache {
  std::mutex mu;
  std::vector<std::shared_ptr<const Snapshot>> entries;  // most recently used last
};

constexpr std::size_t kCacheEntries = 4;

PlanCache& plan_cache() {
  static PlanCache* c = new PlanCache;  // never destroyed: lookups may run during exit
  return *c;
}

template <class T>
bool same_array(const T* a, const T* b, std::int64_t count) {
  constexpr std::int64_t kBlock = 1 << 18;
  if (count <= kBlock) return std::memcmp(a, b, static_cast<std::size_t>(count) * sizeof(T)) == 0;
  std::atomic<bool> differs{false};
  tbb::parallel_for(std::int64_t{0}, (count + kBlock - 1) / kBlock, [&](std::int64_t blk) {
    if (differs.load(std::memory_order_relaxed)) return;
    const std::int64_t lo = blk * kBlock, len = std::min(kBlock, count - lo);
    if (std::memcmp(a + lo, b + lo, static_cast<std::size_t>(len) * sizeof(T)) != 0)
      differs.store(true, std::memory_order_relaxed);
  });
  return !differs.load();
}

}  // namespace

std::shared_ptr<const PanelPlan> panel_plan(const CsrView& g, const HubRows& hubs) {
  if (g.device != Device::cpu || g.n < 2 || g.nnz == 0 || env_flag("DIFFUSER_NO_PANELS")) return nullptr;
  const std::int64_t R = env_int("DIFFUSER_PANEL_ROWS", 32, 16, 32) == 16 ? 16 : 32;
  const std::int64_t share = env_int("DIFFUSER_PANEL_SHARE", 50, 1, 100);
  const bool hub_panels = !env_flag("DIFFUSER_NO_HUB_PANELS");
  PlanCache& c = plan_cache();
  auto same_key = [&](const Snapshot& s) {
    return s.row_ptr_key == g.row_ptr && s.col_key == g.col && s.n == g.n && s.nnz == g.nnz &&
           s.hub_threshold == hubs.threshold && s.rows_per_chunk == R && s.share_pct == share &&
           s.hub_panels == hub_panels;
  };
  std::shared_ptr<const Snapshot> hit;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    for (std::size_t t = 0; t < c.entries.size(); ++t)
      if (same_key(*c.entries[t])) {
        hit = c.entries[t];
        c.entries.erase(c.entries.begin() + static_cast<std::ptrdiff_t>(t));
        c.entries.push_back(hit);
        break;
      }
  }
  // Same addresses and sizes are not the same graph: compare the contents (outside the lock; the
  // snapshot is immutable and kept alive by `hit`).
  if (hit && same_array(hit->row_ptr.data(), g.row_ptr, g.n + 1) && same_array(hit->col.data(), g.col, g.nnz))
    return hit->plan->worthwhile ? hit->plan : nullptr;

  auto snap = std::make_shared<Snapshot>();
  snap->row_ptr_key = g.row_ptr;
  snap->col_key = g.col;
  snap->n = g.n;
  snap->nnz = g.nnz;
  snap->hub_threshold = hubs.threshold;
  snap->rows_per_chunk = R;
  snap->share_pct = share;
  snap->hub_panels = hub_panels;
  snap->row_ptr.assign(g.row_ptr, g.row_ptr + g.n + 1);
  snap->col.assign(g.col, g.col + g.nnz);
  snap->plan = std::make_shared<const PanelPlan>(build_panel_plan(g, hubs, R, share));
  std::shared_ptr<const PanelPlan> plan = snap->plan;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    std::erase_if(c.entries, [&](const std::shared_ptr<const Snapshot>& s) { return same_key(*s); });
    c.entries.push_back(std::move(snap));
    if (c.entries.size() > kCacheEntries) c.entries.erase(c.entries.begin());
  }
  return plan->worthwhile ? plan : nullptr;
}

std::int64_t panel_cache_entries() {
  PlanCache& c = plan_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return static_cast<std::int64_t>(c.entries.size());
}

void panel_cache_clear() {
  PlanCache& c = plan_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.entries.clear();
}

// ---------------------------------------------------------------------------------------------
// Kernels.

template <int D>
void panel_gather_axpby(const CsrView& g, const PanelPlan& plan, const float* w, float a,
                        Tensor3View<const float> x, float b, Tensor3View<const float> y,
                        Tensor3View<float> out) {
  const std::int64_t H = x.h, HD = x.h * D;
  for_each_chunk(plan, [&](const PanelPlan::Chunk& ch) {
    const std::int64_t* rows = plan.rows.data() + ch.rows_off;
    const std::int64_t m = ch.m;
    if (ch.S == 0) {  // no panel: the per-row path
      float* acc = thread_scratch(0, static_cast<std::size_t>(HD));
      for (std::int64_t r = 0; r < m; ++r) {
        const std::int64_t i = rows[r];
        gather_row<D>(w, H, x.data, x.stride_n, x.stride_h, g.col, g.row_ptr[i], g.row_ptr[i + 1], a,
                      out.row(i), out.stride_h, b, b != 0.0f ? y.row(i) : nullptr, y.stride_h, acc);
      }
      return;
    }
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
                          Tensor3View<const float> k, float scale, const std::uint8_t* mask, float* w) {
  const std::int64_t H = q.h;
  for_each_chunk(plan, [&](const PanelPlan::Chunk& ch) {
    const std::int64_t* rows = plan.rows.data() + ch.rows_off;
    const std::int64_t m = ch.m;
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

#define DIFFUSER_PANEL_INSTANTIATE(D)                                                               \
  template void panel_gather_axpby<D>(const CsrView&, const PanelPlan&, const float*, float,        \
                                      Tensor3View<const float>, float, Tensor3View<const float>,    \
                                      Tensor3View<float>);                                          \
  template void panel_edge_attention<D>(const CsrView&, const PanelPlan&, Tensor3View<const float>, \
                                        Tensor3View<const float>, float, const std::uint8_t*, float*);
DIFFUSER_PANEL_INSTANTIATE(16)
DIFFUSER_PANEL_INSTANTIATE(32)
DIFFUSER_PANEL_INSTANTIATE(64)
DIFFUSER_PANEL_INSTANTIATE(128)
#undef DIFFUSER_PANEL_INSTANTIATE

}  // namespace diffuser::cpu
