// Host side of the GPU panels: the CPU plan builder run on a host copy of the graph, turned into
// per-tile source lists and a per-edge panel column, uploaded once per graph and cached.
#include <algorithm>
#include <mutex>
#include <vector>

#include "../cpu/panel_plan.hpp"
#include "backend.hpp"
#include "common.cuh"
#include "panel_plan.hpp"
#include "plan.cuh"
#include "schedule.cuh"

namespace diffuser::cuda {

namespace {

struct Entry {
  const std::int64_t* row_ptr;
  const std::int32_t* col;
  std::int64_t n, nnz, threshold;
  bool built;  // false: asked for once, not built yet
  PanelTiles tiles;
};

struct Cache {
  std::mutex mu;
  std::vector<Entry> entries;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: Buffers may be freed during exit
  return *c;
}

template <class T>
T* upload(const std::vector<T>& v) {
  if (v.empty()) return nullptr;
  auto* d = static_cast<T*>(alloc(v.size() * sizeof(T)));
  copy(d, true, v.data(), false, v.size() * sizeof(T));
  return d;
}

void drop(const PanelTiles& t) noexcept {
  release(const_cast<std::int32_t*>(t.tile_off));
  release(const_cast<std::int32_t*>(t.src));
  release(const_cast<std::uint16_t*>(t.code));
  release(const_cast<std::int32_t*>(t.rest_off));
  release(const_cast<std::int32_t*>(t.rest_base));
  release(const_cast<std::int32_t*>(t.rest_col));
}

PanelTiles build(const CsrView& g, std::int64_t hub_threshold) {
  std::vector<std::int64_t> rp(static_cast<std::size_t>(g.n + 1));
  std::vector<std::int32_t> col(static_cast<std::size_t>(g.nnz));
  copy(rp.data(), false, g.row_ptr, true, rp.size() * sizeof(std::int64_t));
  copy(col.data(), false, g.col, true, col.size() * sizeof(std::int32_t));
  const CsrView host{rp.data(), col.data(), g.n, g.nnz, Device::cpu};
  cpu::HubRows hubs;  // the CPU rule is degree >= threshold, the hop's degree > hub_threshold
  hubs.threshold = hub_threshold == kNoHubs ? 0 : hub_threshold + 1;
  const cpu::PanelPlan p = cpu::build_panel_plan(host, hubs, kPanelTileRows, 50);
  if (!p.worthwhile) return {};

  const auto tiles = static_cast<std::int64_t>(p.chunks.size());
  constexpr std::int64_t R = kPanelTileRows;
  std::vector<std::int32_t> tile_off(static_cast<std::size_t>(tiles + 1), 0), src;
  std::vector<std::int32_t> rest_off(static_cast<std::size_t>(tiles * (R + 1)), 0);
  std::vector<std::int32_t> rest_base(static_cast<std::size_t>(tiles + 1), 0), rest_col;
  std::vector<std::uint16_t> code(static_cast<std::size_t>(g.nnz), kPanelSkip);
  PanelTiles out;
  for (std::int64_t t = 0; t < tiles; ++t) {
    const cpu::PanelPlan::Chunk& ch = p.chunks[static_cast<std::size_t>(t)];
    const std::int64_t S = ch.S;
    tile_off[static_cast<std::size_t>(t + 1)] = tile_off[static_cast<std::size_t>(t)];
    rest_base[static_cast<std::size_t>(t + 1)] = rest_base[static_cast<std::size_t>(t)];
    if (S == 0 || S > kPanelMaxSources) continue;  // the tile's rows gather every edge
    // The gathered edges of each row, padded; the tile keeps per-row gathers if they do not fit.
    std::int32_t* off = rest_off.data() + t * (R + 1);
    std::int64_t listed = 0;
    for (std::int64_t r = 0, k = 0; r < R; ++r) {
      off[r] = static_cast<std::int32_t>(listed);
      if (k < ch.m && p.rows[static_cast<std::size_t>(ch.rows_off + k)] == t * R + r) {
        const std::int64_t row = ch.rows_off + k++;
        const std::int64_t cnt =
            p.rest_ptr[static_cast<std::size_t>(row + 1)] - p.rest_ptr[static_cast<std::size_t>(row)];
        listed += (cnt + kPanelRestPad - 1) / kPanelRestPad * kPanelRestPad;
      }
    }
    off[R] = static_cast<std::int32_t>(listed);
    if (listed > kPanelMaxRest) continue;
    const auto first_entry = static_cast<std::int64_t>(rest_col.size());
    rest_col.resize(static_cast<std::size_t>(first_entry + listed), 0);
    rest_base[static_cast<std::size_t>(t + 1)] += static_cast<std::int32_t>(listed);
    for (std::int64_t k = 0; k < ch.m; ++k) {
      const std::int64_t row = ch.rows_off + k, i = p.rows[static_cast<std::size_t>(row)];
      const std::int64_t first = p.rest_ptr[static_cast<std::size_t>(row)];
      const std::int64_t cnt = p.rest_ptr[static_cast<std::size_t>(row + 1)] - first;
      for (std::int64_t q = 0; q < cnt; ++q) {
        const std::int64_t e = rp[static_cast<std::size_t>(i)] + p.rest[static_cast<std::size_t>(first + q)];
        code[static_cast<std::size_t>(e)] = static_cast<std::uint16_t>(kPanelRest | (off[i - t * R] + q));
        rest_col[static_cast<std::size_t>(first_entry + off[i - t * R] + q)] =
            col[static_cast<std::size_t>(e)];
      }
    }
    const std::int64_t padded = (S + 15) / 16 * 16;
    for (std::int64_t s = 0; s < padded; ++s)
      src.push_back(p.src[static_cast<std::size_t>(ch.src_off + std::min(s, S - 1))]);
    tile_off[static_cast<std::size_t>(t + 1)] += static_cast<std::int32_t>(padded);
    out.max_sources = std::max(out.max_sources, static_cast<int>(padded));
    out.max_rest = std::max(out.max_rest, static_cast<int>(listed));
    const std::int64_t RP = cpu::padded_rows(ch.m);
    const std::int64_t base = rp[static_cast<std::size_t>(p.rows[static_cast<std::size_t>(ch.rows_off)])];
    for (std::int64_t s = 0; s < S; ++s)
      for (std::int64_t r = 0; r < ch.m; ++r) {
        const std::int32_t pos = p.pos[static_cast<std::size_t>(ch.pos_off + s * RP + r)];
        if (pos < 0) continue;
        const std::int64_t in_tile = p.rows[static_cast<std::size_t>(ch.rows_off + r)] - t * R;
        code[static_cast<std::size_t>(base + pos)] = static_cast<std::uint16_t>((in_tile << 8) | s);
        ++out.panel_edges;
      }
  }
  if (out.panel_edges * 10 < g.nnz) return {};
  DIFFUSER_CHECK(rest_col.size() < (std::size_t{1} << 31) && src.size() < (std::size_t{1} << 31),
                 "panel plan: too many listed edges for int32 offsets");
  out.total_sources = static_cast<std::int64_t>(src.size());
  out.total_rest = static_cast<std::int64_t>(rest_col.size());
  out.rest_base = upload(rest_base);
  out.rest_col = upload(rest_col);
  out.tile_off = upload(tile_off);
  out.src = upload(src);
  out.code = upload(code);
  out.rest_off = upload(rest_off);
  return out;
}

}  // namespace

PanelTiles panel_tiles(const CsrView& g, std::int64_t hub_threshold, bool build_now) {
  if (g.n < 2 || g.nnz == 0) return {};
  Cache& c = cache();
  auto same = [&](const Entry& e) {
    return e.row_ptr == g.row_ptr && e.col == g.col && e.n == g.n && e.nnz == g.nnz &&
           e.threshold == hub_threshold;
  };
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = std::find_if(c.entries.begin(), c.entries.end(), same);
    if (it != c.entries.end() && it->built) return it->tiles;
    if (it == c.entries.end() && !build_now) {  // first request: remember the graph, build next time
      c.entries.push_back(Entry{g.row_ptr, g.col, g.n, g.nnz, hub_threshold, false, {}});
      return {};
    }
  }
  const PanelTiles t = build(g, hub_threshold);
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = std::find_if(c.entries.begin(), c.entries.end(), same);
  if (it == c.entries.end()) {
    c.entries.push_back(Entry{g.row_ptr, g.col, g.n, g.nnz, hub_threshold, true, t});
    return t;
  }
  if (it->built) {  // another thread built it meanwhile
    drop(t);
    return it->tiles;
  }
  it->built = true;
  it->tiles = t;
  return t;
}

std::int64_t panel_edges(const CsrView& g) {
  const Schedule& s = current_schedule();
  if (!s.panels || s.hop != HopKernel::automatic) return 0;
  return panel_tiles(g, hub_plan(g).threshold, true).panel_edges;
}

void forget_panels_using(const void* p) noexcept {
  std::vector<PanelTiles> gone;
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = std::remove_if(c.entries.begin(), c.entries.end(), [&](const Entry& e) {
      if (e.row_ptr != p && e.col != p) return false;
      gone.push_back(e.tiles);
      return true;
    });
    c.entries.erase(it, c.entries.end());
  }
  for (const PanelTiles& t : gone) drop(t);
}

}  // namespace diffuser::cuda
