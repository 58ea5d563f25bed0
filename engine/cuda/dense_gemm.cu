// Row-major matrix products through cuBLAS. cuBLAS is column-major: a row-major (m, n) C is the
// column-major (n, m) C^T, so C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T, i.e. cublasSgemm
// with the operands swapped, the same transpose flags and the row-major leading dimensions.
// One handle per host thread and device, on the calling context's stream, FP32 math
// (CUBLAS_DEFAULT_MATH: no TF32), with a workspace from the context's allocator so that peak-memory
// reports count it.
#include <diffuser/engine/buffer.hpp>

#include <cublas_v2.h>

#include "backend.hpp"
#include "common.cuh"
#include "dense_backend.hpp"

#define DIFFUSER_CUBLAS_CHECK(call)                                                                       \
  do {                                                                                                    \
    const cublasStatus_t diffuser_cublas_s_ = (call);                                                     \
    if (diffuser_cublas_s_ != CUBLAS_STATUS_SUCCESS)                                                      \
      throw ::diffuser::Error(::diffuser::cat("cuBLAS error ", cublasGetStatusString(diffuser_cublas_s_), \
                                              " in ", #call, " at ", __FILE__, ":", __LINE__));           \
  } while (0)

namespace diffuser::cuda::dense {

namespace {

// One handle per host thread and device: a handle's stream is per handle, so threads running in
// different contexts (streams) never share one. The handle follows the calling context's stream.
// Never destroyed: thread exit during process teardown races the runtime's own.
cublasHandle_t handle() {
  struct PerDevice {
    cublasHandle_t h = nullptr;
  };
  thread_local PerDevice handles[64];
  const int dev = current_device();
  const cudaStream_t stream = current_stream();
  PerDevice& slot = handles[dev];
  if (slot.h == nullptr) {
    cublasHandle_t created = nullptr;
    DIFFUSER_CUBLAS_CHECK(cublasCreate(&created));
    DIFFUSER_CUBLAS_CHECK(cublasSetMathMode(created, CUBLAS_DEFAULT_MATH));
    DIFFUSER_CUBLAS_CHECK(cublasSetPointerMode(created, CUBLAS_POINTER_MODE_HOST));
    slot.h = created;
  }
  DIFFUSER_CUBLAS_CHECK(cublasSetStream(slot.h, stream));
  return slot.h;
}

}  // namespace

void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
          std::int64_t ldc) {
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  // cuBLAS's workspace for this call from the context's allocator (its recommended size on Hopper).
  constexpr std::size_t kWorkspaceBytes = std::size_t{32} << 20;
  Buffer<char> workspace(static_cast<std::int64_t>(kWorkspaceBytes), Device::cuda);
  const cublasHandle_t h = handle();
  DIFFUSER_CUBLAS_CHECK(cublasSetWorkspace(h, workspace.data(), kWorkspaceBytes));
  DIFFUSER_CUBLAS_CHECK(cublasSgemm(h, op_b, op_a, static_cast<int>(n), static_cast<int>(m),
                                    static_cast<int>(k), &alpha, b, static_cast<int>(ldb), a,
                                    static_cast<int>(lda), &beta, c, static_cast<int>(ldc)));
  DIFFUSER_CUDA_LAUNCHED("cublasSgemm");
}

}  // namespace diffuser::cuda::dense
