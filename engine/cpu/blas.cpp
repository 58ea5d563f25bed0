// Matrix products on the CPU through OpenBLAS's cblas_sgemm (its own kernels and CPU dispatch).
#include <mutex>

#include <cblas.h>

#include "blas.hpp"

namespace diffuser::cpu {

void gemm_blas(int threads, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
               float alpha, const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta,
               float* c, std::int64_t ldc) {
  // OpenBLAS has one process-wide thread pool: it is resized (rarely) and used under one lock, so
  // calls from several host threads (different contexts) never resize it under a running product.
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (openblas_get_num_threads() != threads) openblas_set_num_threads(threads);
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda),
              b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

}  // namespace diffuser::cpu
