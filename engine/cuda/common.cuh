// What every CUDA file of the backend shares: the checking macros (every runtime call, every
// launch), the current context's device and stream, launch sizes.
#pragma once

#include <cuda_runtime.h>
#include <cstdint>

#include <diffuser/engine/error.hpp>

namespace diffuser::cuda {

// Throws diffuser::Error: "CUDA error cudaErrorX (text) in <call> at file:line".
[[noreturn]] void fail(cudaError_t e, const char* what, const char* file, int line);

// After a launch: the launch's own error, and with the context's sync_each_launch (debugging;
// DIFFUSER_CUDA_SYNC=1) the kernel's, after a synchronisation of the stream: errors then name the
// kernel that caused them instead of a later call.
void check_launch(const char* kernel, const char* file, int line);

// The stream every kernel, copy and library call of the backend runs on: the calling thread's
// context's (its device made current first). Work is ordered on it; the host is never blocked
// except by explicit synchronisation or a copy to host memory.
cudaStream_t current_stream();
int current_device();

// Multiprocessor count of the current context's device (cached per device).
int sm_count();

inline unsigned blocks_for(std::int64_t items, int per_block) {
  const std::int64_t b = (items + per_block - 1) / per_block;
  return static_cast<unsigned>(b < 1 ? 1 : b);
}

}  // namespace diffuser::cuda

#define DIFFUSER_CUDA_CHECK(call)                                          \
  do {                                                                     \
    const cudaError_t diffuser_cuda_e_ = (call);                           \
    if (diffuser_cuda_e_ != cudaSuccess)                                   \
      ::diffuser::cuda::fail(diffuser_cuda_e_, #call, __FILE__, __LINE__); \
  } while (0)

// Use right after every <<<...>>> launch.
#define DIFFUSER_CUDA_LAUNCHED(kernel_name) ::diffuser::cuda::check_launch(kernel_name, __FILE__, __LINE__)
