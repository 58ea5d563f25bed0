// A plain blocked matrix product kept to measure OpenBLAS against (docs/LAYER.md): B packed
// row-major, TBB over tiles of C rows, for each row an axpy over a block of C columns that the
// compiler vectorises.
#include "isa_begin.hpp"  // first: the shared headers, then the level's target

#include "kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

void Kernels::gemm_blocked(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                           float alpha, const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
                           float beta, float* c, std::int64_t ldc) {
  // Pack B as (k, n) row-major so the inner loop runs over contiguous columns of C.
  std::vector<float> bp(static_cast<std::size_t>(k * n));
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, k, 16), [&](const auto& r) {
    for (auto p = r.begin(); p < r.end(); ++p)
      for (std::int64_t j = 0; j < n; ++j)
        bp[static_cast<std::size_t>(p * n + j)] = trans_b ? b[j * ldb + p] : b[p * ldb + j];
  });
  constexpr std::int64_t kRows = 32, kDepth = 128, kCols = 512;
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, (m + kRows - 1) / kRows, 1), [&](const auto& r) {
    for (auto tile = r.begin(); tile < r.end(); ++tile) {
      const std::int64_t i0 = tile * kRows, i1 = std::min(m, i0 + kRows);
      for (std::int64_t i = i0; i < i1; ++i) {
        float* ci = c + i * ldc;
        for (std::int64_t j = 0; j < n; ++j) ci[j] = beta == 0.0f ? 0.0f : beta * ci[j];
      }
      for (std::int64_t j0 = 0; j0 < n; j0 += kCols) {
        const std::int64_t j1 = std::min(n, j0 + kCols);
        for (std::int64_t p0 = 0; p0 < k; p0 += kDepth) {
          const std::int64_t p1 = std::min(k, p0 + kDepth);
          for (std::int64_t i = i0; i < i1; ++i) {
            float* ci = c + i * ldc;
            for (std::int64_t p = p0; p < p1; ++p) {
              const float av = alpha * (trans_a ? a[p * lda + i] : a[i * lda + p]);
              const float* bpr = bp.data() + p * n;
              for (std::int64_t j = j0; j < j1; ++j) ci[j] += av * bpr[j];
            }
          }
        }
      }
    }
  });
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "isa_end.hpp"
