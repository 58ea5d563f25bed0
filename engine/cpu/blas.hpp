// Matrix products through OpenBLAS (outside the CPU levels: OpenBLAS dispatches on the CPU itself).
#pragma once

#include <cstdint>

namespace diffuser::cpu {

// C = alpha op(A) op(B) + beta C, row-major, on `threads` of OpenBLAS's threads.
void gemm_blas(int threads, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
               float alpha, const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta,
               float* c, std::int64_t ldc);

}  // namespace diffuser::cpu
