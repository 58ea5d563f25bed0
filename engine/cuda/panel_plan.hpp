// The GPU form of the dense panels (engine/cpu/panels.hpp): per aligned 32-row tile, the sources
// that at least half of the tile's non-hub rows read form a dense panel, multiplied on tensor
// cores (bf16 rows); the other edges of those rows are gathered from a per-tile list the hop
// kernel builds in shared memory. Built once per graph on the host with the CPU plan builder (one
// copy of the graph to the host), cached like the hub plan and dropped when the graph is freed.
#pragma once

#include <cstdint>

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

// The panels of g for rows of degree <= hub_threshold (the hop's hub rule; hub rows are left to
// the hub path), or an unusable plan when panels do not pay (fewer than a tenth of the edges).
// Building costs far more than one forward (host copy of the graph and the CPU plan builder: 178
// ms at N = 65,536, 3 s at N = 1,048,576 against forwards of 22 and 373 ms), so unless build_now
// the first request for a graph only records it and returns an unusable plan: one-shot forwards
// keep the per-edge path, repeated ones (training, benchmarks) get panels from the second on.
PanelTiles panel_tiles(const CsrView& g, std::int64_t hub_threshold, bool build_now);

// Drops cached panels of graphs whose row_ptr or col is `p` (through forget_plans_using).
void forget_panels_using(const void* p) noexcept;

}  // namespace diffuser::cuda
