// What every CUDA file of the backend shares: the checking macros (every runtime call, every
// launch), the switch that synchronises after each launch (DIFFUSER_CUDA_SYNC=1), launch sizes.
#pragma once

#include <cuda_runtime.h>
#include <cstdint>

#include <diffuser/engine/error.hpp>

namespace diffuser::cuda {

// Throws diffuser::Error: "CUDA error cudaErrorX (text) in <call> at file:line".
[[noreturn]] void fail(cudaError_t e, const char* what, const char* file, int line);

// After a launch: the launch's own error, and with DIFFUSER_CUDA_SYNC=1 in the environment the
// kernel's (a device synchronisation after every launch, for debugging: errors then name the
// kernel that caused them instead of a later call).
void check_launch(const char* kernel, const char* file, int line);

// The stream every kernel, copy and library call of the backend runs on (the legacy default
// stream: work is ordered, the host is never blocked except by explicit synchronisation).
inline constexpr cudaStream_t kStream = nullptr;

// cuda::free without dropping the cached plans of a graph that used `p` (for the plans' own memory).
void release(void* p) noexcept;

// Multiprocessor count of the current device (cached).
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
