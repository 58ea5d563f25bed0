// The device arrays behind a PanelTiles (engine-internal: both panel builders fill one).
#pragma once

#include <cstdint>
#include <memory>

#include <diffuser/engine/buffer.hpp>

#include "panel_plan.hpp"

namespace diffuser::cuda {

struct PanelArrays {
  Buffer<std::int32_t> tile_off, src, rest_off, rest_base, rest_col;
  Buffer<std::uint16_t> code;
  PanelTiles tiles;  // points into the buffers above

  std::int64_t bytes() const {
    return static_cast<std::int64_t>(tile_off.bytes() + src.bytes() + rest_off.bytes() + rest_base.bytes() +
                                     rest_col.bytes() + code.bytes());
  }
  // Points `tiles` at the buffers (after they are filled) and wraps the result.
  static GpuPanels publish(std::shared_ptr<PanelArrays> a) {
    a->tiles.tile_off = a->tile_off.data();
    a->tiles.src = a->src.data();
    a->tiles.code = a->code.data();
    a->tiles.rest_off = a->rest_off.data();
    a->tiles.rest_base = a->rest_base.data();
    a->tiles.rest_col = a->rest_col.data();
    const PanelTiles t = a->tiles;
    return GpuPanels{t, std::move(a)};
  }
};

}  // namespace diffuser::cuda
