// The bf16 tensor-core hop (hop_panel.cuh): packing the weights once per set of weights
// (ops::prepare_hops) and the hops that read the packed copy.
#include <memory>
#include <mutex>

#include "backend.hpp"
#include "hop_dispatch.cuh"
#include "hop_panel.cuh"

namespace diffuser::cuda {

namespace {

// One packed buffer is kept for reuse once its HopWeights is dropped: the diffusion prepares one
// per forward, and cudaMalloc + cudaFree of it (0.5 GB at N = 65,536) cost as much as packing.
struct Pool {
  std::mutex mu;
  void* p = nullptr;
  std::size_t bytes = 0;
};

Pool& pool() {
  static Pool* pl = new Pool;  // never destroyed: HopWeights may be dropped during exit
  return *pl;
}

void* take(std::size_t bytes) {
  {
    Pool& pl = pool();
    std::lock_guard<std::mutex> lock(pl.mu);
    if (pl.p != nullptr && pl.bytes >= bytes) {
      void* p = pl.p;
      pl.p = nullptr;
      return p;
    }
  }
  return alloc(bytes);
}

void give_back(void* p, std::size_t bytes) noexcept {
  void* drop = p;
  {
    Pool& pl = pool();
    std::lock_guard<std::mutex> lock(pl.mu);
    if (pl.p == nullptr || pl.bytes < bytes) {  // keep the larger buffer
      drop = pl.p;
      pl.p = p;
      pl.bytes = bytes;
    }
  }
  release(drop);
}

// What prepare_hops hands out: the packed weights and the plan they were packed for.
struct PackedHop {
  CsrView g;
  std::int64_t hub_min = kNoHubs, heads = 0;
  EdgeStrides ws;
  PanelTiles pt;
  PackedWeights pw{};
  void* buffer = nullptr;  // panels, then rest_w
  std::size_t bytes = 0;
  ~PackedHop() { give_back(buffer, bytes); }
};

}  // namespace

std::shared_ptr<const void> pack_hop_weights(const CsrView& g, const float* w, EdgeStrides ws,
                                             std::int64_t heads) {
  const Schedule& s = current_schedule();
  if (!s.panels || s.hop != HopKernel::automatic || g.n == 0 || heads <= 0) return nullptr;
  const HubPlan hubs = hub_plan(g);
  const PanelTiles pt = panel_tiles(g, hubs.threshold, s.panels == 2);
  if (!pt.usable()) return nullptr;
  auto packed = std::make_shared<PackedHop>();
  packed->g = g;
  packed->hub_min = hubs.threshold;
  packed->heads = heads;
  packed->ws = ws;
  packed->pt = pt;
  const std::int64_t panel_stride = pt.total_sources * kTileRows, rest_stride = pt.total_rest;
  const std::size_t panel_bytes = (static_cast<std::size_t>(heads * panel_stride) * 2 + 255) / 256 * 256;
  packed->bytes = panel_bytes + static_cast<std::size_t>(heads * rest_stride) * 4;
  packed->buffer = take(packed->bytes);
  auto* base = static_cast<unsigned char*>(packed->buffer);
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
  pack_panels<<<blocks_for(tiles, 1), kThreads, bytes, kStream>>>(p, pt, packed->pw);
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
  const PanelTiles& pt = packed->pt;
  const std::size_t bytes = panel_smem::bytes(pt.max_sources, pt.max_rest);
  if (bytes > 48 * 1024)
    DIFFUSER_CUDA_CHECK(cudaFuncSetAttribute(hop_panel<8>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(bytes)));
  std::int64_t tiles = 0;
  const unsigned blocks = head_major_blocks(g.n, x.h, &tiles);
  hop_panel<8><<<blocks, kThreads, bytes, kStream>>>(
      p, pt, packed->pw, panel_smem::ldp(pt.max_sources),
      static_cast<int>(panel_smem::dense_bytes(pt.max_sources)), tiles);
  DIFFUSER_CUDA_LAUNCHED("hop_panel");
  if (plan.n_hubs == 0) return;
  const HubGrid hg = make_hub_grid(g.n, plan, p.heads, kHubTile, 64);
  hub_hop_panel<<<hub_blocks(hg, p.heads), kThreads, 0, kStream>>>(p, hg);
  DIFFUSER_CUDA_LAUNCHED("hub_hop_panel");
  hub_hop_combine<bf16><<<static_cast<unsigned>(plan.n_hubs * p.heads), 64, 0, kStream>>>(p, hg);
  DIFFUSER_CUDA_LAUNCHED("hub_hop_combine");
}

}  // namespace diffuser::cuda
