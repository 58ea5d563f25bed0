// The CPU kernels' choices, resolved from the execution context once per call (kernels never read
// the context themselves: they may run on TBB worker threads, which have no current context).
#pragma once

#include <cstdint>

#include <diffuser/engine/context.hpp>

namespace diffuser::cpu {

struct Tuning {
  bool panels = true;
  bool hub_panels = true;
  bool hub_rows = true;
  std::int64_t hub_threshold = 0;  // 0: the default rule
  int panel_rows = 32;
  int panel_share_pct = 50;
  int hub_chunk_rows = 32;

  static Tuning of(const Context& ctx) {
    const CpuOptions& o = ctx.options().cpu;
    return {ctx.cpu_panels(), o.hub_panels,      o.hub_rows,      o.hub_threshold,
            o.panel_rows,     o.panel_share_pct, o.hub_chunk_rows};
  }
};

}  // namespace diffuser::cpu
