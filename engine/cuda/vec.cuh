// Device helpers shared by the kernels: vector loads of VEC consecutive elements (float32 or bf16)
// widened to float, stores that round once, and the per-edge value addressing.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <cstdint>

#include <diffuser/engine/bf16.hpp>

namespace diffuser::cuda {

inline constexpr unsigned kFull = 0xffffffffu;

__device__ __forceinline__ float bf_lo(unsigned u) {
  return __uint_as_float(u << 16);
}
__device__ __forceinline__ float bf_hi(unsigned u) {
  return __uint_as_float(u & 0xffff0000u);
}
__device__ __forceinline__ unsigned bf_bits(float x) {
  return static_cast<unsigned>(__bfloat16_as_ushort(__float2bfloat16_rn(x)));
}
__device__ __forceinline__ unsigned bf_pack(float lo, float hi) {
  return bf_bits(lo) | (bf_bits(hi) << 16);
}

// r[0..VEC) = p[0..VEC) as float. p must be aligned to VEC elements (VEC a power of two; for
// float up to 4 per instruction, for bf16 up to 8).
template <int VEC>
__device__ __forceinline__ void load_vec(const float* __restrict__ p, float (&r)[VEC]) {
  if constexpr (VEC == 1) {
    r[0] = __ldg(p);
  } else if constexpr (VEC == 2) {
    const float2 t = __ldg(reinterpret_cast<const float2*>(p));
    r[0] = t.x;
    r[1] = t.y;
  } else {
    static_assert(VEC % 4 == 0, "float vectors of 1, 2 or 4k elements");
#pragma unroll
    for (int c = 0; c < VEC / 4; ++c) {
      const float4 t = __ldg(reinterpret_cast<const float4*>(p) + c);
      r[4 * c] = t.x;
      r[4 * c + 1] = t.y;
      r[4 * c + 2] = t.z;
      r[4 * c + 3] = t.w;
    }
  }
}

template <int VEC>
__device__ __forceinline__ void load_vec(const bf16* __restrict__ p, float (&r)[VEC]) {
  const unsigned short* q = reinterpret_cast<const unsigned short*>(p);
  if constexpr (VEC == 1) {
    r[0] = __uint_as_float(static_cast<unsigned>(__ldg(q)) << 16);
  } else if constexpr (VEC == 2) {
    const unsigned u = __ldg(reinterpret_cast<const unsigned*>(q));
    r[0] = bf_lo(u);
    r[1] = bf_hi(u);
  } else if constexpr (VEC == 4) {
    const uint2 u = __ldg(reinterpret_cast<const uint2*>(q));
    r[0] = bf_lo(u.x);
    r[1] = bf_hi(u.x);
    r[2] = bf_lo(u.y);
    r[3] = bf_hi(u.y);
  } else {
    static_assert(VEC % 8 == 0, "bf16 vectors of 1, 2, 4 or 8k elements");
#pragma unroll
    for (int c = 0; c < VEC / 8; ++c) {
      const uint4 u = __ldg(reinterpret_cast<const uint4*>(q) + c);
      r[8 * c] = bf_lo(u.x);
      r[8 * c + 1] = bf_hi(u.x);
      r[8 * c + 2] = bf_lo(u.y);
      r[8 * c + 3] = bf_hi(u.y);
      r[8 * c + 4] = bf_lo(u.z);
      r[8 * c + 5] = bf_hi(u.z);
      r[8 * c + 6] = bf_lo(u.w);
      r[8 * c + 7] = bf_hi(u.w);
    }
  }
}

template <int VEC>
__device__ __forceinline__ void store_vec(float* p, const float (&r)[VEC]) {
  if constexpr (VEC == 1) {
    p[0] = r[0];
  } else if constexpr (VEC == 2) {
    *reinterpret_cast<float2*>(p) = make_float2(r[0], r[1]);
  } else {
    static_assert(VEC % 4 == 0, "float vectors of 1, 2 or 4k elements");
#pragma unroll
    for (int c = 0; c < VEC / 4; ++c)
      reinterpret_cast<float4*>(p)[c] = make_float4(r[4 * c], r[4 * c + 1], r[4 * c + 2], r[4 * c + 3]);
  }
}

template <int VEC>
__device__ __forceinline__ void store_vec(bf16* p, const float (&r)[VEC]) {
  unsigned short* q = reinterpret_cast<unsigned short*>(p);
  if constexpr (VEC == 1) {
    q[0] = static_cast<unsigned short>(bf_bits(r[0]));
  } else if constexpr (VEC == 2) {
    *reinterpret_cast<unsigned*>(q) = bf_pack(r[0], r[1]);
  } else if constexpr (VEC == 4) {
    *reinterpret_cast<uint2*>(q) = make_uint2(bf_pack(r[0], r[1]), bf_pack(r[2], r[3]));
  } else {
    static_assert(VEC % 8 == 0, "bf16 vectors of 1, 2, 4 or 8k elements");
#pragma unroll
    for (int c = 0; c < VEC / 8; ++c)
      reinterpret_cast<uint4*>(q)[c] =
          make_uint4(bf_pack(r[8 * c], r[8 * c + 1]), bf_pack(r[8 * c + 2], r[8 * c + 3]),
                     bf_pack(r[8 * c + 4], r[8 * c + 5]), bf_pack(r[8 * c + 6], r[8 * c + 7]));
  }
}

// Scalar element access for the generic kernels.
__device__ __forceinline__ float load1(const float* p) {
  return __ldg(p);
}
__device__ __forceinline__ float load1(const bf16* p) {
  return __uint_as_float(static_cast<unsigned>(__ldg(reinterpret_cast<const unsigned short*>(p))) << 16);
}
__device__ __forceinline__ void store1(float* p, float v) {
  *p = v;
}
__device__ __forceinline__ void store1(bf16* p, float v) {
  *reinterpret_cast<unsigned short*>(p) = static_cast<unsigned short>(bf_bits(v));
}

// Online softmax state: running maximum and the sum of exp(score - max).
struct SoftmaxState {
  float m, s;
};
__device__ __forceinline__ void softmax_add(SoftmaxState& st, float score) {
  if (score == -INFINITY) return;
  if (score > st.m) {
    st.s = st.s * expf(st.m - score) + 1.0f;
    st.m = score;
  } else {
    st.s += expf(score - st.m);
  }
}
__device__ __forceinline__ SoftmaxState softmax_merge(SoftmaxState a, SoftmaxState b) {
  const float m = fmaxf(a.m, b.m);
  if (m == -INFINITY) return {m, 0.0f};
  return {m, a.s * expf(a.m - m) + b.s * expf(b.m - m)};
}

}  // namespace diffuser::cuda
