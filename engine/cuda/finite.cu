// find_non_finite on the GPU: the smallest flat index of a NaN/Inf (atomicMin: the same answer
// whatever the scheduling), read back with one small copy.
#include <climits>

#include <diffuser/engine/buffer.hpp>

#include "backend.hpp"
#include "dispatch.cuh"

namespace diffuser::cuda {

namespace {

__device__ __forceinline__ bool bad(float v) {
  return !isfinite(v);
}
__device__ __forceinline__ bool bad(bf16 v) {
  return (*reinterpret_cast<const unsigned short*>(&v) & 0x7f80u) == 0x7f80u;
}

template <class T>
__global__ void find_kernel(const T* x, std::int64_t sn, std::int64_t sh, std::int64_t h, std::int64_t d,
                            std::int64_t total, unsigned long long* first) {
  for (std::int64_t f = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; f < total;
       f += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t t = f % d, rest = f / d;
    if (bad(x[(rest / h) * sn + (rest % h) * sh + t])) atomicMin(first, static_cast<unsigned long long>(f));
  }
}

template <class T>
std::int64_t find_any(Tensor3View<const T> x) {
  const std::int64_t total = x.n * x.h * x.d;
  if (total == 0) return -1;
  const cudaStream_t stream = current_stream();
  Buffer<unsigned long long> d_first(1, Device::cuda);  // this call's own word (stream-ordered pool)
  const unsigned long long none = ULLONG_MAX;
  DIFFUSER_CUDA_CHECK(cudaMemsetAsync(d_first.data(), 0xff, sizeof none, stream));  // ULLONG_MAX
  const std::int64_t blocks = (total + 255) / 256, cap = static_cast<std::int64_t>(sm_count()) * 32;
  find_kernel<T><<<static_cast<unsigned>(blocks < cap ? blocks : cap), 256, 0, stream>>>(
      x.data, x.stride_n, x.stride_h, x.h, x.d, total, d_first.data());
  DIFFUSER_CUDA_LAUNCHED("find_kernel");
  unsigned long long first = none;
  DIFFUSER_CUDA_CHECK(cudaMemcpyAsync(&first, d_first.data(), sizeof first, cudaMemcpyDeviceToHost, stream));
  DIFFUSER_CUDA_CHECK(cudaStreamSynchronize(stream));  // returns a host value
  return first == none ? -1 : static_cast<std::int64_t>(first);
}

}  // namespace

std::int64_t find_non_finite(Tensor3View<const float> x) {
  return find_any(x);
}
std::int64_t find_non_finite(Tensor3View<const bf16> x) {
  return find_any(x);
}

}  // namespace diffuser::cuda
