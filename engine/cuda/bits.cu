// The bitset primitives of multi-source BFS on the GPU. Pull: one thread per (row, word), so the
// threads of a warp read consecutive words of a source's bitset (coalesced once words >= 32).
// Advance: one warp per node, the popcounts reduced with shuffles.
#include "backend.hpp"
#include "common.cuh"

namespace diffuser::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void frontier_pull_kernel(const std::int64_t* __restrict__ row_ptr,
                                     const std::int32_t* __restrict__ col,
                                     const std::uint64_t* __restrict__ frontier,
                                     std::uint64_t* __restrict__ next, std::int64_t words,
                                     std::int64_t total) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t t = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += stride) {
    const std::int64_t i = t / words, w = t - i * words;
    const std::int64_t end = row_ptr[i + 1];
    std::uint64_t acc = 0;
#pragma unroll 4
    for (std::int64_t e = row_ptr[i]; e < end; ++e)
      acc |= __ldg(frontier + static_cast<std::int64_t>(col[e]) * words + w);
    next[t] = acc;
  }
}

__global__ void frontier_advance_kernel(const std::uint64_t* __restrict__ next,
                                        std::uint64_t* __restrict__ visited,
                                        std::uint64_t* __restrict__ frontier, std::int64_t words,
                                        std::int64_t n, std::int64_t* __restrict__ counts) {
  const int lane = static_cast<int>(threadIdx.x & 31);
  const std::int64_t warps = static_cast<std::int64_t>(gridDim.x) * (blockDim.x / 32);
  // i is the same for all lanes of a warp, so the shuffles below see a full warp.
  for (std::int64_t i = (blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x) / 32; i < n;
       i += warps) {
    unsigned long long c = 0;
    for (std::int64_t w = lane; w < words; w += 32) {
      const std::int64_t x = i * words + w;
      const std::uint64_t fresh = next[x] & ~visited[x];
      visited[x] |= fresh;
      frontier[x] = fresh;
      c += static_cast<unsigned long long>(__popcll(fresh));
    }
    for (int o = 16; o > 0; o >>= 1) c += __shfl_down_sync(0xffffffffu, c, o);
    if (lane == 0) counts[i] = static_cast<std::int64_t>(c);
  }
}

unsigned grid_for(std::int64_t items) {
  const std::int64_t blocks = (items + kThreads - 1) / kThreads;
  const std::int64_t cap = static_cast<std::int64_t>(sm_count()) * 32;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

}  // namespace

void frontier_pull(const CsrView& g, const std::uint64_t* frontier, std::uint64_t* next, std::int64_t words) {
  const std::int64_t total = g.n * words;
  frontier_pull_kernel<<<grid_for(total), kThreads, 0, current_stream()>>>(g.row_ptr, g.col, frontier, next,
                                                                           words, total);
  DIFFUSER_CUDA_LAUNCHED("frontier_pull_kernel");
}

void frontier_advance(const std::uint64_t* next, std::uint64_t* visited, std::uint64_t* frontier,
                      std::int64_t words, std::int64_t n, std::int64_t* new_counts) {
  frontier_advance_kernel<<<grid_for(n * 32), kThreads, 0, current_stream()>>>(next, visited, frontier, words,
                                                                               n, new_counts);
  DIFFUSER_CUDA_LAUNCHED("frontier_advance_kernel");
}

}  // namespace diffuser::cuda
