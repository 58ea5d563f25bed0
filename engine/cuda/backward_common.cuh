// Shared pieces of the CUDA gradient kernels: one warp per (row, head) with the lanes across the
// head dimension (PER_LANE values each, D <= 32 * PER_LANE), warp sums, launch sizes.
#pragma once

#include <cstdint>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/tensor.hpp>

#include "common.cuh"

namespace diffuser::cuda::grad {

inline constexpr int kBwdWarps = 8;  // warps per block
inline constexpr int kBwdThreads = kBwdWarps * 32;
inline constexpr std::int64_t kMaxHeadDim = 256;

__device__ inline float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Blocks for one warp per item.
inline unsigned warp_blocks(std::int64_t items) {
  const std::int64_t b = (items + kBwdWarps - 1) / kBwdWarps;
  DIFFUSER_CHECK(b < (std::int64_t{1} << 31), "graph too large for one launch: ", b, " blocks");
  return static_cast<unsigned>(b < 1 ? 1 : b);
}

inline void check_head_dim(const char* op, std::int64_t d) {
  DIFFUSER_CHECK(d <= kMaxHeadDim, op, ": head size ", d, " exceeds the CUDA backward's limit of ",
                 kMaxHeadDim);
}

// Calls f.template operator()<P>() with P = values per lane for head size d (1, 2, 4 or 8).
template <class F>
void dispatch_per_lane(std::int64_t d, F&& f) {
  if (d <= 32)
    f.template operator()<1>();
  else if (d <= 64)
    f.template operator()<2>();
  else if (d <= 128)
    f.template operator()<4>();
  else
    f.template operator()<8>();
}

}  // namespace diffuser::cuda::grad
