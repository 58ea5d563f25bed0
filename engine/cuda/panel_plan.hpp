// The GPU form of the dense panels (engine/cpu/panel_plan.hpp): per aligned 32-row tile, the
// sources that at least half of the tile's non-hub rows read form a dense panel, multiplied on
// tensor cores (bf16 rows); the other edges of those rows are gathered from a per-tile list the hop
// kernel builds in shared memory. Built on the device (panel_plan_build.cu: a sort of the edges by
// (tile, source), run lengths, scans) on a graph's first use and kept in its plans (GraphPlans);
// the host builder (the CPU planner on a host copy) stays as the reference the tests compare with.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <diffuser/engine/csr.hpp>

namespace diffuser::cuda {

inline constexpr int kPanelTileRows = 32;            // = kTileRows of the hop kernels
inline constexpr int kPanelMaxSources = 256;         // per tile (shared memory; slot fits 8 bits)
inline constexpr int kPanelMaxRest = 4096;           // gathered edges per tile (shared memory)
inline constexpr int kPanelRestPad = 16;             // each row's gathered edges padded to a multiple
inline constexpr std::uint16_t kPanelSkip = 0xffff;  // code of an edge the kernel never reads
inline constexpr std::uint16_t kPanelRest = 0x8000;  // code bit: a gathered edge

// A tile whose panel would exceed those limits (or has no shared sources) keeps the per-row
// gathers for all its edges (tile_off[t + 1] == tile_off[t]).
struct PanelTiles {
  const std::int32_t* tile_off = nullptr;  // tile t's sources are src[tile_off[t] .. tile_off[t+1])
  const std::int32_t* src = nullptr;       //   (a multiple of 16; padding repeats a real source)
  // Per edge of a non-hub row of a panel tile: (row in tile << 8) | column of the panel, or
  // kPanelRest | its index in the tile's list of gathered edges; kPanelSkip elsewhere.
  const std::uint16_t* code = nullptr;
  // Per panel tile, 33 offsets: row r's gathered edges are list[rest_off[33t + r] .. [33t + r + 1])
  // (padded with (row 0, weight 0) entries to a multiple of kPanelRestPad).
  const std::int32_t* rest_off = nullptr;
  // Tile t's list starts at rest_base[t] of the graph's lists; rest_col holds each entry's source
  // (0 for padding). Every tile's list length is a multiple of kPanelRestPad.
  const std::int32_t* rest_base = nullptr;
  const std::int32_t* rest_col = nullptr;
  std::int64_t total_sources = 0;  // tile_off[tiles]
  std::int64_t total_rest = 0;     // rest_base[tiles]
  int max_sources = 0;             // the largest tile's source count
  int max_rest = 0;                // the largest tile's list
  std::int64_t panel_edges = 0;    // edges the panels cover
  bool usable() const { return code != nullptr; }
};

// A graph's panels and what keeps their device arrays alive.
struct GpuPanels {
  PanelTiles tiles;
  std::shared_ptr<const void> owner;
};

// The panels of g for rows of degree <= hub_threshold (the hop's hub rule; hub rows are left to
// the hub path), or unusable tiles when panels do not pay (fewer than a tenth of the edges). Kept
// in g's plans; a bare view builds them for the call. Building costs a sort of the edges (about
// half a bf16 forward at N = 65,536) and one synchronisation of the stream (the sizes).
GpuPanels panel_tiles(const CsrView& g, std::int64_t hub_threshold);

// The two builders (the lookup above uses the device one).
GpuPanels build_panels_on_device(const CsrView& g, std::int64_t hub_threshold);
GpuPanels build_panels_on_host(const CsrView& g, std::int64_t hub_threshold);

// "" when both builders give the same arrays for g, else the first difference (tests).
std::string compare_panel_builders(const CsrView& g, std::int64_t hub_threshold);

}  // namespace diffuser::cuda
