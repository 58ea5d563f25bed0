// Row copies for packing and unpacking messages, on the CPU (parallel memcpy) or on the GPU (one
// copy per row: correct, not tuned).
#pragma once

#include <cstdint>
#include <span>

#include <diffuser/engine/device.hpp>

namespace diffuser::diffusion::distributed {

// rows x row_bytes from src (rows src_stride bytes apart) to dst (dst_stride apart).
void copy_rows(void* dst, std::int64_t dst_stride, const void* src, std::int64_t src_stride, std::int64_t rows,
               std::int64_t row_bytes, Device device);

// dst[r] = src[index[r]] for every r (rows of row_bytes, packed).
void gather_rows(void* dst, const void* src, std::span<const std::int32_t> index, std::int64_t row_bytes,
                 Device device);

// dst[index[r]] += src[r] for every r (rows of row_floats floats; index without repeats). CPU.
void add_rows(float* dst, const float* src, std::span<const std::int32_t> index, std::int64_t row_floats);

}  // namespace diffuser::diffusion::distributed
