// bfloat16 storage for node tensors (Q, K, V, Z): 16 bits, the upper half of an IEEE float32.
// Storage only: the primitives convert to float32, accumulate in float32, and round once on store.
#pragma once

#include <bit>
#include <cstdint>
#include <span>
#include <string_view>

namespace diffuser {

// A plain 16-bit value (no CUDA type): trivially copyable, so Buffer<bf16> and Tensor3<bf16> work
// on every device. The CUDA backend reinterprets the same bits as __nv_bfloat16.
struct bf16 {
  std::uint16_t bits;
};

// Round to nearest, ties to even (what the hardware's cvt.rn.bf16.f32 does); NaN stays a quiet NaN
// with its sign, infinities and overflow give infinities.
inline bf16 to_bf16(float f) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bf16{static_cast<std::uint16_t>((u >> 16) | 0x0040u)};
  const std::uint32_t rounded = u + 0x7fffu + ((u >> 16) & 1u);
  return bf16{static_cast<std::uint16_t>(rounded >> 16)};
}

inline float to_float(bf16 b) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b.bits) << 16);
}

// Element type names for messages and --dtype.
enum class DType { fp32, bf16 };
const char* dtype_name(DType t);
// Parses "fp32"/"float32" or "bf16"/"bfloat16"; throws UsageError naming the value otherwise.
DType parse_dtype(std::string_view name);

// Host conversions of contiguous arrays (parallel for large arrays).
void convert(std::span<const float> in, std::span<bf16> out);
void convert(std::span<const bf16> in, std::span<float> out);

}  // namespace diffuser
