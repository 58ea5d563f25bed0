// Csr::from_edges on the GPU (the backend's only Thrust file): edges become 64-bit keys
// (dst << 32 | src), one radix sort, unique, the column ids are the low halves and the row offsets
// are lower bounds of (i << 32) in the sorted keys. Temporaries go through the engine's allocator.
#include <cstddef>

#include <thrust/binary_search.h>
#include <thrust/execution_policy.h>
#include <thrust/find.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/sort.h>
#include <thrust/transform.h>
#include <thrust/unique.h>

#include <diffuser/engine/buffer.hpp>

#include "backend.hpp"
#include "common.cuh"

namespace diffuser::cuda {

namespace {

struct EngineAllocator {
  using value_type = char;
  char* allocate(std::ptrdiff_t bytes) { return static_cast<char*>(alloc(static_cast<std::size_t>(bytes))); }
  void deallocate(char* p, std::size_t) { cuda::free(p); }
};

struct BadEdge {
  const std::int32_t* src;
  const std::int32_t* dst;
  std::int64_t n;
  __host__ __device__ bool operator()(std::int64_t e) const {
    return src[e] < 0 || src[e] >= n || dst[e] < 0 || dst[e] >= n;
  }
};

struct MakeKey {
  const std::int32_t* src;
  const std::int32_t* dst;
  __host__ __device__ unsigned long long operator()(std::int64_t e) const {
    return (static_cast<unsigned long long>(static_cast<std::uint32_t>(dst[e])) << 32) |
           static_cast<std::uint32_t>(src[e]);
  }
};

struct LowHalf {
  __host__ __device__ std::int32_t operator()(unsigned long long k) const {
    return static_cast<std::int32_t>(k & 0xffffffffull);
  }
};

struct RowKey {
  __host__ __device__ unsigned long long operator()(std::int64_t i) const {
    return static_cast<unsigned long long>(i) << 32;
  }
};

}  // namespace

Csr csr_from_edges(std::int64_t n, const std::int32_t* src, const std::int32_t* dst, std::int64_t m,
                   std::int64_t* bad) {
  *bad = -1;
  EngineAllocator allocator;
  const auto policy = thrust::cuda::par(allocator).on(current_stream());
  Buffer<std::int64_t> row_ptr(n + 1, Device::cuda);
  if (m == 0) {
    row_ptr.zero();
    return Csr::adopt(n, std::move(row_ptr), Buffer<std::int32_t>(0, Device::cuda));
  }
  const thrust::counting_iterator<std::int64_t> first(0);
  const auto found = thrust::find_if(policy, first, first + m, BadEdge{src, dst, n});
  if (*found != m) {
    *bad = *found;
    return Csr();
  }
  Buffer<unsigned long long> keys(m, Device::cuda);
  thrust::transform(policy, first, first + m, keys.data(), MakeKey{src, dst});
  thrust::sort(policy, keys.data(), keys.data() + m);
  const std::int64_t nnz = thrust::unique(policy, keys.data(), keys.data() + m) - keys.data();
  Buffer<std::int32_t> col(nnz, Device::cuda);
  thrust::transform(policy, keys.data(), keys.data() + nnz, col.data(), LowHalf{});
  const auto row_keys = thrust::make_transform_iterator(first, RowKey{});
  thrust::lower_bound(policy, keys.data(), keys.data() + nnz, row_keys, row_keys + (n + 1), row_ptr.data());
  DIFFUSER_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
  DIFFUSER_CUDA_LAUNCHED("csr_from_edges");
  return Csr::adopt(n, std::move(row_ptr), std::move(col));
}

}  // namespace diffuser::cuda
