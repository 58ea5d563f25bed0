// edge_softmax on the GPU (the unfused primitive; the forward uses edge_attention): one warp per
// (row, head) over edge-major scores, an online max/sum pass and a normalising pass.
#include "backend.hpp"
#include "dispatch.cuh"
#include "score_kernels.cuh"

namespace diffuser::cuda {

namespace {

__global__ void __launch_bounds__(kThreads)
    softmax_rows(const std::int64_t* row_ptr, const std::int32_t* col, std::int64_t n, float* w, int heads,
                 const std::uint8_t* mask, std::int64_t tiles) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const std::int64_t h = blockIdx.x / tiles, tile = blockIdx.x % tiles;
  float* wh = w + h;
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const std::int64_t i = tile * kTileRows + r * kWarps + warp;
    if (i >= n) break;
    const std::int64_t rb = row_ptr[i], re = row_ptr[i + 1];
    const bool row_ok = token_real(mask, i);
    SoftmaxState st{-INFINITY, 0.0f};
    for (std::int64_t e = rb + lane; e < re; e += 32) {
      const bool ok = row_ok && token_real(mask, col[e]);
      float& x = wh[e * heads];
      if (!ok) x = -INFINITY;
      softmax_add(st, x);
    }
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
      const SoftmaxState other{__shfl_xor_sync(kFull, st.m, off), __shfl_xor_sync(kFull, st.s, off)};
      st = softmax_merge(st, other);
    }
    __syncwarp();
    normalise(wh, heads, rb, re, lane, 32, st);
  }
}

}  // namespace

void edge_softmax(const CsrView& g, MatrixView<float> scores, Span<const std::uint8_t> mask) {
  if (g.n == 0 || g.nnz == 0) return;
  std::int64_t tiles = 0;
  const unsigned blocks = head_major_blocks(g.n, scores.cols, &tiles);
  softmax_rows<<<blocks, kThreads, 0, current_stream()>>>(g.row_ptr, g.col, g.n, scores.data,
                                                          static_cast<int>(scores.cols), mask.data, tiles);
  DIFFUSER_CUDA_LAUNCHED("softmax_rows");
}

}  // namespace diffuser::cuda
