// Counter-based random numbers: the value for (seed, stream, index) is a pure function, so
// patterns are reproducible across runs, machines, thread counts and backends.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define DIFFUSER_HD __host__ __device__
#else
#define DIFFUSER_HD
#endif

namespace diffuser::rng {

// SplitMix64 finalizer: a bijective mixer with good avalanche.
DIFFUSER_HD inline std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// 64 random bits for position `index` of stream `stream` under `seed`.
DIFFUSER_HD inline std::uint64_t bits(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  return mix64(mix64(seed ^ mix64(stream + 0x632BE59BD9B4E019ull)) + index);
}

// Uniform integer in [0, bound) (Lemire's multiply-shift; bias below 2^-32 for bound < 2^32).
DIFFUSER_HD inline std::uint32_t below(std::uint64_t seed, std::uint64_t stream, std::uint64_t index,
                                       std::uint32_t bound) {
  const std::uint64_t r = bits(seed, stream, index) >> 32;
  return static_cast<std::uint32_t>((r * bound) >> 32);
}

// Uniform double in [0, 1) with 53 random bits.
DIFFUSER_HD inline double uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  return static_cast<double>(bits(seed, stream, index) >> 11) * 0x1.0p-53;
}

// Standard normal (Box-Muller on two uniforms of the same index).
double normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t index);

}  // namespace diffuser::rng
