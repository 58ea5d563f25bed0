#include <cstdlib>
#include <cstring>
#include <new>

#include <sys/mman.h>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/error.hpp>

#include "../cuda/backend.hpp"

namespace diffuser {

namespace {
constexpr std::size_t kAlignment = 64;  // a cache line; also enough for AVX-512 loads
// Large buffers (weights, node tensors) start on a 2 MiB boundary and ask for transparent huge
// pages: first-touch page faults cost ~13 us per 4 KiB page on the VMs measured, and the random
// neighbour gathers of a hop miss the TLB far less often with 2 MiB pages.
constexpr std::size_t kHugePage = 2u << 20;
constexpr std::size_t kHugeThreshold = 4u << 20;
}  // namespace

void* device_alloc(Device d, std::size_t bytes) {
  if (bytes == 0) return nullptr;
  if (d == Device::cuda) return cuda::alloc(bytes);
  const std::size_t align = bytes >= kHugeThreshold ? kHugePage : kAlignment;
  const std::size_t rounded = (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
  if (!p) throw Error(cat("out of memory: could not allocate ", rounded, " bytes on the CPU"));
  if (align == kHugePage) ::madvise(p, rounded, MADV_HUGEPAGE);  // a hint: failure is harmless
  return p;
}

void device_free(Device d, void* p) noexcept {
  if (!p) return;
  if (d == Device::cuda) {
    cuda::free(p);
  } else {
    std::free(p);
  }
}

void device_copy(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes) {
  if (bytes == 0) return;
  if (dst_device == Device::cpu && src_device == Device::cpu) {
    std::memcpy(dst, src, bytes);
  } else {
    cuda::copy(dst, dst_device == Device::cuda, src, src_device == Device::cuda, bytes);
  }
}

void device_memset_zero(void* p, Device d, std::size_t bytes) {
  if (bytes == 0) return;
  if (d == Device::cuda) {
    cuda::memset_zero(p, bytes);
  } else {
    std::memset(p, 0, bytes);
  }
}

}  // namespace diffuser
