// Portable short vectors for the CPU kernels (GCC/Clang vector extensions): 16 floats at the
// avx512 level, else 8 (one AVX register, two SSE or NEON ones), so the same code serves every
// level (isa_begin.hpp) and aarch64.
#pragma once

#ifndef DIFFUSER_ISA_NS
#error "include isa_begin.hpp before the per-level kernel headers"
#endif

namespace diffuser::cpu::DIFFUSER_ISA_NS::simd {

#if DIFFUSER_ISA_LEVEL >= 4
// 16 floats: one AVX-512 register (halves the instruction count of every kernel).
inline constexpr int kLanes = 16;
typedef float Vec __attribute__((vector_size(64), aligned(4)));
typedef std::int32_t VecI __attribute__((vector_size(64), aligned(4)));
#else
inline constexpr int kLanes = 8;
typedef float Vec __attribute__((vector_size(32), aligned(4)));
typedef std::int32_t VecI __attribute__((vector_size(32), aligned(4)));
#endif
// aligned(4): loads through these types may be unaligned (views can start anywhere).
typedef float Vec4 __attribute__((vector_size(16), aligned(4)));
typedef float Vec8 __attribute__((vector_size(32), aligned(4)));

// 8-lane vectors on every build: the gather kernels measured faster with them than with 16 lanes
// on AVX-512 (Zen 5, N = 4096: 45 vs 70 ms per hop); the score kernels are faster with 16.
inline constexpr int kLanes8 = 8;
inline Vec8 load8(const float* p) {
  return *reinterpret_cast<const Vec8*>(p);
}
inline void store8(float* p, Vec8 v) {
  *reinterpret_cast<Vec8*>(p) = v;
}
inline Vec8 splat8(float x) {
  Vec8 v;
  for (int i = 0; i < kLanes8; ++i) v[i] = x;
  return v;
}

inline Vec load(const float* p) {
  return *reinterpret_cast<const Vec*>(p);
}
inline void store(float* p, Vec v) {
  *reinterpret_cast<Vec*>(p) = v;
}
inline Vec splat(float x) {
  Vec v;
  for (int i = 0; i < kLanes; ++i) v[i] = x;  // compiles to one broadcast
  return v;
}
inline Vec zero() {
  return Vec{};
}

// 8 lanes from any vector width: the sum of its two (or one) halves.
inline Vec8 fold8(Vec a) {
#if DIFFUSER_ISA_LEVEL >= 4
  return __builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7) +
         __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15);
#else
  return a;
#endif
}

// Sums of four vectors at once: {sum(a), sum(b), sum(c), sum(d)} (a transposed reduction tree).
inline Vec4 hsum4(Vec va, Vec vb, Vec vc, Vec vd) {
  const Vec8 a = fold8(va), b = fold8(vb), c = fold8(vc), d = fold8(vd);
  const Vec8 ab = __builtin_shufflevector(a, b, 0, 8, 2, 10, 4, 12, 6, 14) +
                  __builtin_shufflevector(a, b, 1, 9, 3, 11, 5, 13, 7, 15);
  const Vec8 cd = __builtin_shufflevector(c, d, 0, 8, 2, 10, 4, 12, 6, 14) +
                  __builtin_shufflevector(c, d, 1, 9, 3, 11, 5, 13, 7, 15);
  const Vec8 abcd = __builtin_shufflevector(ab, cd, 0, 1, 8, 9, 4, 5, 12, 13) +
                    __builtin_shufflevector(ab, cd, 2, 3, 10, 11, 6, 7, 14, 15);
  return __builtin_shufflevector(abcd, abcd, 0, 1, 2, 3) + __builtin_shufflevector(abcd, abcd, 4, 5, 6, 7);
}

inline float hsum(Vec v) {
  const Vec8 a = fold8(v);
  const Vec4 s = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
  return (s[0] + s[2]) + (s[1] + s[3]);
}

// exp(x) for a vector: Cody-Waite range reduction and a degree-6 polynomial, relative error about
// 2e-7 on [-87, 88]; below -87 it flushes to 0, NaN stays NaN. Softmax needs one exp per edge and
// head, which the scalar libm call would make the most expensive part of the pass.
inline Vec exp(Vec x) {
  const Vec hi = splat(88.3762626647949f), lo = splat(-87.3365447505531f);
  const auto nan_mask = x != x;
  const auto under = x < lo;
  Vec xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  const Vec fx = xc * splat(1.44269504088896341f);
  // round to nearest via the 1.5*2^23 trick (exact for |fx| < 2^22)
  const Vec shifter = splat(12582912.0f);
  const Vec n = (fx + shifter) - shifter;
  Vec r = xc - n * splat(0.693359375f);
  r = r - n * splat(-2.12194440e-4f);
  Vec p = splat(1.9875691500e-4f);
  p = p * r + splat(1.3981999507e-3f);
  p = p * r + splat(8.3334519073e-3f);
  p = p * r + splat(4.1665795894e-2f);
  p = p * r + splat(1.6666665459e-1f);
  p = p * r + splat(5.0000001201e-1f);
  p = p * r * r + r + splat(1.0f);
  const VecI ni = __builtin_convertvector(n, VecI);
  VecI bits;
  std::memcpy(&bits, &p, sizeof bits);
  bits += ni << 23;
  Vec result;
  std::memcpy(&result, &bits, sizeof result);
  result = under ? zero() : result;
  return nan_mask ? x : result;
}

inline Vec max(Vec a, Vec b) {
  return a > b ? a : b;
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS::simd
