// Host-side launch helpers shared by the score and hop dispatchers.
#pragma once

#include <cstdint>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/tensor.hpp>

#include "common.cuh"
#include "hop_kernels.cuh"
#include "plan.cuh"

namespace diffuser::cuda {

inline constexpr int kThreads = kWarps * 32;

// True when every (row, head) slice starts on a 16-byte boundary: the vector kernels may load it.
template <class T>
bool aligned16(const Tensor3View<T>& t) {
  if (t.data == nullptr) return true;
  const auto sz = static_cast<std::int64_t>(sizeof(std::remove_const_t<T>));
  return reinterpret_cast<std::uintptr_t>(t.data) % 16 == 0 && (t.stride_n * sz) % 16 == 0 &&
         (t.stride_h * sz) % 16 == 0;
}

// Grid of a head-major kernel over row tiles: tiles per head group, and the CTA count.
inline unsigned head_major_blocks(std::int64_t n, std::int64_t head_groups, std::int64_t* tiles) {
  *tiles = (n + kTileRows - 1) / kTileRows;
  const std::int64_t blocks = *tiles * head_groups;
  DIFFUSER_CHECK(blocks < (std::int64_t{1} << 31), "graph too large for one launch: ", blocks, " CTAs");
  return static_cast<unsigned>(blocks);
}

// The hub path's split: about 4 CTAs per multiprocessor over (head, hub batch, source range). Its
// partial sums go to `scratch`, allocated here for the call (stream-ordered: freed after the
// kernels when the caller's Buffer goes out of scope).
inline HubGrid make_hub_grid(std::int64_t n, const HubPlan& plan, int heads, int chunk,
                             std::int64_t floats_per_range, Buffer<float>& scratch) {
  HubGrid g{};
  g.hubs = plan.hubs;
  g.n_hubs = plan.n_hubs;
  g.n_hb = (plan.n_hubs + kHubBatch - 1) / kHubBatch;
  g.chunk = chunk;
  const std::int64_t max_ranges = (n + chunk - 1) / chunk;
  std::int64_t n_cg = (4 * static_cast<std::int64_t>(sm_count()) + heads * g.n_hb - 1) / (heads * g.n_hb);
  n_cg = n_cg < 1 ? 1 : (n_cg > max_ranges ? max_ranges : n_cg);
  const std::int64_t per = (n + n_cg - 1) / n_cg;
  g.sg = (per + chunk - 1) / chunk * chunk;
  g.n_cg = (n + g.sg - 1) / g.sg;
  scratch = Buffer<float>(g.n_hubs * heads * g.n_cg * floats_per_range, Device::cuda);
  g.partial = scratch.data();
  return g;
}

inline unsigned hub_blocks(const HubGrid& g, int heads) {
  return static_cast<unsigned>(static_cast<std::int64_t>(heads) * g.n_hb * g.n_cg);
}

}  // namespace diffuser::cuda
