// The bf16 tensor-core hop (hop_panel.cuh): packing the weights once per set of weights
// (ops::prepare_hops) into a buffer from the context's allocator, and the hops that read it.
#include <memory>

#include <diffuser/engine/buffer.hpp>

#include "backend.hpp"
#include "hop_dispatch.cuh"
#include "hop_panel.cuh"

namespace diffuser::cuda {

namespace {

// What prepare_hops hands out: the packed weights and the plan they were packed for.
struct PackedHop {
  CsrView g;
  std::int64_t hub_min = kNoHubs, heads = 0;
  EdgeStrides ws;
  GpuPanels panels;  // the plan the weights were packed for (kept alive with them)
  PackedWeights pw{};
  Buffer<unsigned char> buffer;  // panels, then rest_w (the context's allocator)
};

}  // namespace

std::shared_ptr<const void> pack_hop_weights(const CsrView& g, const float* w, EdgeStrides ws,
                                             std::int64_t heads) {
  const CudaSchedule& s = current_schedule();
  if (!s.panels || s.hop != HopKernel::automatic || g.n == 0 || heads <= 0) return nullptr;
  const HubPlan hubs = hub_plan(g);
  GpuPanels panels = panel_tiles(g, hubs.threshold);
  if (!panels.tiles.usable()) return nullptr;
  const PanelTiles& pt = panels.tiles;
  auto packed = std::make_shared<PackedHop>();
  packed->g = g;
  packed->hub_min = hubs.threshold;
  packed->heads = heads;
  packed->ws = ws;
  packed->panels = std::move(panels);
  const std::int64_t panel_stride = pt.total_sources * kTileRows, rest_stride = pt.total_rest;
  const std::size_t panel_bytes = (static_cast<std::size_t>(heads * panel_stride) * 2 + 255) / 256 * 256;
  packed->buffer =
      Buffer<unsigned char>(static_cast<std::int64_t>(panel_bytes) + heads * rest_stride * 4, Device::cuda);
  auto* base = packed->buffer.data();
  packed->pw = PackedWeights{reinterpret_cast<const bf16*>(base),
                             reinterpret_cast<const float*>(base + panel_bytes), panel_stride, rest_stride};
  HopArgs<bf16> p{};
  p.row_ptr = g.row_ptr;
  p.col = g.col;
  p.n = g.n;
  p.w = w;
  p.wse = ws.se;
  p.wsh = ws.sh;
  p.heads = static_cast<int>(heads);
  p.hub_min = hubs.threshold;
  const std::size_t bytes =
      static_cast<std::size_t>(kTileRows) * pt.max_sources * 2 + static_cast<std::size_t>(pt.max_rest) * 4;
  const std::int64_t tiles = (g.n + kTileRows - 1) / kTileRows;
  pack_panels<<<blocks_for(tiles, 1), kThreads, bytes, current_stream()>>>(p, pt, packed->pw);
  DIFFUSER_CUDA_LAUNCHED("pack_panels");
  return packed;
}

void gather_axpby(const CsrView& g, const float* w, EdgeStrides ws, const void* packed_weights, float a,
                  Tensor3View<const bf16> x, float b, Tensor3View<const bf16> y, Tensor3View<bf16> out) {
  const auto* packed = static_cast<const PackedHop*>(packed_weights);
  const HubPlan plan = hub_plan(g);
  const bool usable = packed != nullptr && packed->g.row_ptr == g.row_ptr && packed->g.col == g.col &&
                      packed->g.n == g.n && packed->g.nnz == g.nnz && packed->heads == x.h && x.d == 64 &&
                      packed->ws.se == ws.se && packed->ws.sh == ws.sh && plan.threshold == packed->hub_min &&
                      fast_hop(x, b, y, out);
  if (!usable) return gather_axpby(g, w, ws, a, x, b, y, out);
  HopArgs<bf16> p = hop_args(g, w, ws.se, ws.sh, a, x, b, y, out);
  p.hub_min = packed->hub_min;
  const PanelTiles& pt = packed->panels.tiles;
  const std::size_t bytes = panel_smem::bytes(pt.max_sources, pt.max_rest);
  if (bytes > 48 * 1024)
    DIFFUSER_CUDA_CHECK(cudaFuncSetAttribute(hop_panel<8>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(bytes)));
  std::int64_t tiles = 0;
  const unsigned blocks = head_major_blocks(g.n, x.h, &tiles);
  hop_panel<8><<<blocks, kThreads, bytes, current_stream()>>>(
      p, pt, packed->pw, panel_smem::ldp(pt.max_sources),
      static_cast<int>(panel_smem::dense_bytes(pt.max_sources)), tiles);
  DIFFUSER_CUDA_LAUNCHED("hop_panel");
  if (plan.n_hubs == 0) return;
  Buffer<float> scratch;
  const HubGrid hg = make_hub_grid(g.n, plan, p.heads, kHubTile, 64, scratch);
  hub_hop_panel<<<hub_blocks(hg, p.heads), kThreads, 0, current_stream()>>>(p, hg);
  DIFFUSER_CUDA_LAUNCHED("hub_hop_panel");
  hub_hop_combine<bf16><<<static_cast<unsigned>(plan.n_hubs * p.heads), 64, 0, current_stream()>>>(p, hg);
  DIFFUSER_CUDA_LAUNCHED("hub_hop_combine");
}

}  // namespace diffuser::cuda
