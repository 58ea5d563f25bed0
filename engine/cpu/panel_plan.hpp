// Dense panels: consecutive destination rows share most of their sources (blocks:W at stride W/2
// gives an aligned W/2-row chunk the same W + W/2 block sources; global tokens are shared by all
// rows). Per chunk of R rows, the sources that occur in at least half of the chunk's rows form a
// dense R x S panel per head (zeros where a row lacks the edge), computed as small register-blocked
// GEMMs that load each source row once per chunk instead of once per edge; the remaining edges go
// through per-row gathers as before. A hybrid of block-sparse and CSR, planned once per graph.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/tensor.hpp>

#include "hub_rows.hpp"
#include "tuning.hpp"

namespace diffuser::cpu {

// Rows of a panel tile: m rounded up to 16 (one AVX-512 vector of rows).
std::int64_t padded_rows(std::int64_t m);

// Which rows of which chunk use a panel, with which sources, and where each panel edge sits in its
// row. Built once per graph (kept in its plans, see panel_plan) and only read afterwards.
struct PanelPlan {
  struct Chunk {
    std::int64_t rows_off = 0;  // this chunk's rows are rows[rows_off .. rows_off + m)
    std::int32_t m = 0;         // rows of the chunk outside the hub path (ascending)
    std::int32_t S = 0;         // panel sources; 0: the chunk's rows use the per-row path
    std::int64_t src_off = 0;   // panel sources src[src_off .. src_off + S), ascending
    std::int64_t pos_off = 0;   // pos[pos_off + s*RP + r], RP = padded_rows(m): the edge of row r
                                // with source s, relative to the first edge of the chunk's first
                                // row, or -1 where the row lacks it (and for padding rows r >= m)
  };
  std::int64_t rows_per_chunk = 0;
  std::int64_t hub_threshold = 0;  // the hub rule the plan was built for (hub rows are skipped)
  std::int64_t min_share_pct = 0;  // a panel source occurs in >= this % of the chunk's rows
  std::vector<Chunk> chunks;       // aligned chunks [c*R, min(n, (c+1)*R))
  // Hub rows (degree >= hub_threshold), grouped in chunks of up to 32 (any rows, not consecutive):
  // the same fields, except that pos is relative to the first edge of each row itself. Empty when
  // the hub rows share too few sources (or the tuning turns hub panels off): gather_hub_rows and
  // attention_hub_rows handle them then.
  std::vector<Chunk> hub_chunks;
  std::int64_t hub_panel_edges = 0;  // of panel_edges, those in hub chunks
  std::vector<std::int64_t> rows;    // per chunk, its non-hub rows (then the hub chunks' rows)
  std::vector<std::int32_t> src;
  std::vector<std::int32_t> pos;
  std::vector<std::int64_t> rest_ptr;  // per entry of rows: its non-panel edges are
  std::vector<std::int32_t> rest;      //   rest[rest_ptr[t] .. rest_ptr[t+1]) (relative to row start)
  std::int64_t panel_edges = 0;        // edges covered by panels
  std::int64_t panel_slots = 0;        // sum of m * S (FMA work of the panels, zeros included)
  bool worthwhile = false;             // false: the engine keeps the per-row path for this graph

  std::int64_t bytes() const;  // memory held by the plan
};

// The plan of graph g (CPU) under the hub rule `hubs`, or nullptr when the tuning turns panels
// off or they do not pay for this graph. Kept in the graph's plans (CsrView::plans) under the
// tuning it was built for (panel rows, share, hub rule, hub chunk rows); a bare view plans afresh.
std::shared_ptr<const PanelPlan> panel_plan(const CsrView& g, const HubRows& hubs, const Tuning& tuning);

// Builds a plan (tests, tools); hub_chunk_rows 0: no hub chunks.
PanelPlan build_panel_plan(const CsrView& g, const HubRows& hubs, std::int64_t rows_per_chunk,
                           std::int64_t min_share_pct, std::int64_t hub_chunk_rows = 32);

// Panel parameters shared by the planner and the kernels.
inline constexpr std::int64_t kMinSources = 4;  // fewer shared sources: the chunk keeps the per-row path
inline constexpr std::int64_t kSourceBlock =
    64;  // panel sources per GEMM block (X 16 KB + W 8 KB per head: L1)

// Appends the hub-row chunks of g to p (panel_plan.cpp): hub rows grouped `rows` at a time.
void build_hub_chunks(const CsrView& g, const HubRows& hubs, std::int64_t share_pct, std::int64_t rows,
                      PanelPlan& p);

}  // namespace diffuser::cpu
