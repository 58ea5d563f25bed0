// The templates the CPU dense primitives share (dense_*.cpp; entry points in kernels.inc): TBB
// over row ranges, and column sums over fixed row blocks so results do not depend on the thread
// count. The products themselves go to OpenBLAS (blas.cpp), outside the levels.
#pragma once

#ifndef DIFFUSER_ISA_NS
#error "include isa_begin.hpp before the per-level kernel headers"
#endif

namespace diffuser::cpu::DIFFUSER_ISA_NS {

// Rows of a matrix in parallel (grain 16 rows).
template <class F>
void for_rows(std::int64_t n, F&& f) {
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, 16), [&](const auto& r) {
    for (auto i = r.begin(); i < r.end(); ++i) f(i);
  });
}

// Rows per block of the fixed-order column sums (the CUDA kernels use the same blocks).
inline constexpr std::int64_t kSumBlock = 128;

// Partial sums of fixed row blocks in parallel (each block's rows in order), then the blocks added in
// order: the result does not depend on the thread count. row_value(i, partial) adds row i.
template <class F>
void fixed_order_column_sums(std::int64_t rows, std::int64_t cols, float* out, bool accumulate,
                             F&& row_value) {
  const std::int64_t nb = (rows + kSumBlock - 1) / kSumBlock;
  std::vector<float> partial(static_cast<std::size_t>(nb * cols), 0.0f);
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, nb, 1), [&](const auto& r) {
    for (auto b = r.begin(); b < r.end(); ++b) {
      float* p = partial.data() + b * cols;
      const std::int64_t r1 = std::min(rows, (b + 1) * kSumBlock);
      for (std::int64_t i = b * kSumBlock; i < r1; ++i) row_value(i, p);
    }
  });
  for (std::int64_t c = 0; c < cols; ++c) {
    float s = 0.0f;
    for (std::int64_t b = 0; b < nb; ++b) s += partial[static_cast<std::size_t>(b * cols + c)];
    out[c] = accumulate ? out[c] + s : s;
  }
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS
