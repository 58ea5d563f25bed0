#include "rows.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cstring>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/context.hpp>

namespace diffuser::diffusion::distributed {

namespace {

template <class RowPair>
void for_rows(std::int64_t rows, std::int64_t row_bytes, Device device, RowPair&& pair) {
  if (rows <= 0 || row_bytes <= 0) return;
  if (device != Device::cpu) {
    for (std::int64_t r = 0; r < rows; ++r) {
      auto [d, s] = pair(r);
      device_copy(d, device, s, device, static_cast<std::size_t>(row_bytes));
    }
    return;
  }
  in_current_context([&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, rows, 256), [&](const tbb::blocked_range<std::int64_t>& b) {
      for (std::int64_t r = b.begin(); r < b.end(); ++r) {
        auto [d, s] = pair(r);
        std::memcpy(d, s, static_cast<std::size_t>(row_bytes));
      }
    });
  });
}

}  // namespace

void copy_rows(void* dst, std::int64_t dst_stride, const void* src, std::int64_t src_stride, std::int64_t rows,
               std::int64_t row_bytes, Device device) {
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  for_rows(rows, row_bytes, device, [&](std::int64_t r) {
    return std::pair<void*, const void*>(d + r * dst_stride, s + r * src_stride);
  });
}

void gather_rows(void* dst, const void* src, std::span<const std::int32_t> index, std::int64_t row_bytes,
                 Device device) {
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  for_rows(static_cast<std::int64_t>(index.size()), row_bytes, device, [&](std::int64_t r) {
    return std::pair<void*, const void*>(d + r * row_bytes, s + std::int64_t{index[static_cast<std::size_t>(r)]} * row_bytes);
  });
}

void add_rows(float* dst, const float* src, std::span<const std::int32_t> index, std::int64_t row_floats) {
  in_current_context([&] {
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, index.size(), 64), [&](const tbb::blocked_range<std::size_t>& b) {
      for (std::size_t r = b.begin(); r < b.end(); ++r) {
        float* d = dst + std::int64_t{index[r]} * row_floats;
        const float* s = src + static_cast<std::int64_t>(r) * row_floats;
        for (std::int64_t x = 0; x < row_floats; ++x) d[x] += s[x];
      }
    });
  });
}

}  // namespace diffuser::diffusion::distributed
