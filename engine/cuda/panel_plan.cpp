// The GPU panels of a graph: the lookup in its plans, the host builder (the CPU planner run on a
// host copy of the graph, turned into per-tile source lists and a per-edge panel column: the
// reference the device builder is tested against) and the comparison of the two.
#include <algorithm>
#include <span>
#include <vector>

#include "../cpu/panel_plan.hpp"
#include "../src/cuda_schedule.hpp"
#include "../src/graph_plans_store.hpp"
#include "backend.hpp"
#include "common.cuh"
#include "panel_arrays.hpp"
#include "panel_plan.hpp"
#include "plan.cuh"

namespace diffuser::cuda {

namespace {

template <class T>
Buffer<T> upload(const std::vector<T>& v) {
  return Buffer<T>::from_host(std::span<const T>(v.data(), v.size()), Device::cuda);
}

GpuPanels build_host(const CsrView& g, std::int64_t hub_threshold) {
  std::vector<std::int64_t> rp(static_cast<std::size_t>(g.n + 1));
  std::vector<std::int32_t> col(static_cast<std::size_t>(g.nnz));
  copy(rp.data(), false, g.row_ptr, true, rp.size() * sizeof(std::int64_t));
  copy(col.data(), false, g.col, true, col.size() * sizeof(std::int32_t));
  const CsrView host{rp.data(), col.data(), g.n, g.nnz, Device::cpu};
  cpu::HubRows hubs;  // the CPU rule is degree >= threshold, the hop's degree > hub_threshold
  hubs.threshold = hub_threshold == kNoHubs ? 0 : hub_threshold + 1;
  const cpu::PanelPlan p = cpu::build_panel_plan(host, hubs, kPanelTileRows, 50);
  if (!p.worthwhile) return {};
  auto arrays = std::make_shared<PanelArrays>();
  PanelTiles& out = arrays->tiles;

  const auto tiles = static_cast<std::int64_t>(p.chunks.size());
  constexpr std::int64_t R = kPanelTileRows;
  std::vector<std::int32_t> tile_off(static_cast<std::size_t>(tiles + 1), 0), src;
  std::vector<std::int32_t> rest_off(static_cast<std::size_t>(tiles * (R + 1)), 0);
  std::vector<std::int32_t> rest_base(static_cast<std::size_t>(tiles + 1), 0), rest_col;
  std::vector<std::uint16_t> code(static_cast<std::size_t>(g.nnz), kPanelSkip);
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
  arrays->rest_base = upload(rest_base);
  arrays->rest_col = upload(rest_col);
  arrays->tile_off = upload(tile_off);
  arrays->src = upload(src);
  arrays->code = upload(code);
  arrays->rest_off = upload(rest_off);
  return PanelArrays::publish(std::move(arrays));
}

}  // namespace

GpuPanels build_panels_on_host(const CsrView& g, std::int64_t hub_threshold) {
  if (g.n < 2 || g.nnz == 0) return {};
  return build_host(g, hub_threshold);
}

GpuPanels panel_tiles(const CsrView& g, std::int64_t hub_threshold) {
  if (g.n < 2 || g.nnz == 0) return {};
  if (g.plans == nullptr) return build_panels_on_device(g, hub_threshold);
  auto held = g.plans->store().get<GpuPanels>(cat("cuda-panels hubs>", hub_threshold), [&] {
    auto p = std::make_shared<GpuPanels>(build_panels_on_device(g, hub_threshold));
    const auto* arrays = static_cast<const PanelArrays*>(p->owner.get());
    const std::int64_t bytes = arrays ? arrays->bytes() : 0;
    return std::pair{std::shared_ptr<const GpuPanels>(std::move(p)), bytes};
  });
  return *held;
}

std::int64_t panel_edges(const CsrView& g) {
  const CudaSchedule& s = current_schedule();
  if (!s.panels || s.hop != HopKernel::automatic) return 0;
  return panel_tiles(g, hub_plan(g).threshold).tiles.panel_edges;
}

namespace {

template <class T>
std::string compare_array(const char* name, const T* a, const T* b, std::int64_t count) {
  std::vector<T> ha(static_cast<std::size_t>(count)), hb(static_cast<std::size_t>(count));
  if (count > 0) {
    copy(ha.data(), false, a, true, ha.size() * sizeof(T));
    copy(hb.data(), false, b, true, hb.size() * sizeof(T));
  }
  for (std::int64_t i = 0; i < count; ++i)
    if (ha[static_cast<std::size_t>(i)] != hb[static_cast<std::size_t>(i)])
      return cat(name, "[", i, "]: device ", ha[static_cast<std::size_t>(i)], ", host ",
                 hb[static_cast<std::size_t>(i)]);
  return "";
}

}  // namespace

std::string panel_builder_differences(const CsrView& g) {
  return compare_panel_builders(g, hub_plan(g).threshold);
}

std::string compare_panel_builders(const CsrView& g, std::int64_t hub_threshold) {
  const GpuPanels d = build_panels_on_device(g, hub_threshold), h = build_panels_on_host(g, hub_threshold);
  const PanelTiles& a = d.tiles;
  const PanelTiles& b = h.tiles;
  if (a.usable() != b.usable()) return cat("usable: device ", a.usable(), ", host ", b.usable());
  if (!a.usable()) return "";
  if (a.total_sources != b.total_sources || a.total_rest != b.total_rest || a.max_sources != b.max_sources ||
      a.max_rest != b.max_rest || a.panel_edges != b.panel_edges)
    return cat("sizes: device (", a.total_sources, ", ", a.total_rest, ", ", a.max_sources, ", ", a.max_rest,
               ", ", a.panel_edges, "), host (", b.total_sources, ", ", b.total_rest, ", ", b.max_sources,
               ", ", b.max_rest, ", ", b.panel_edges, ")");
  const std::int64_t tiles = (g.n + kPanelTileRows - 1) / kPanelTileRows;
  for (const std::string& diff :
       {compare_array("tile_off", a.tile_off, b.tile_off, tiles + 1),
        compare_array("src", a.src, b.src, a.total_sources), compare_array("code", a.code, b.code, g.nnz),
        compare_array("rest_off", a.rest_off, b.rest_off, tiles * (kPanelTileRows + 1)),
        compare_array("rest_base", a.rest_base, b.rest_base, tiles + 1),
        compare_array("rest_col", a.rest_col, b.rest_col, a.total_rest)})
    if (!diff.empty()) return diff;
  return "";
}

}  // namespace diffuser::cuda
