// Data of `diffuser demo`: seeded random features filled in parallel, and an output checksum;
// both independent of the thread count.
#pragma once

#include <cstdint>

#include <diffuser/engine/buffer.hpp>

namespace diffuser::cli {

// b[i] = rng::normal(seed, stream, i) for every i, filled by `threads` std::threads in contiguous
// chunks: each value depends only on (seed, stream, i), so any thread count gives the same data.
void fill_normal(Buffer<float>& b, std::uint64_t seed, std::uint64_t stream, int threads);

struct Checksum {
  double sum = 0;
  double sum_squares = 0;
};

// Sums in double, in index order (one thread), so the result only depends on the values.
Checksum checksum(const float* data, std::int64_t count);

}  // namespace diffuser::cli
