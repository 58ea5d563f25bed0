// Baselines `diffuser bench` measures in the same process as the engine, so that every ratio it
// prints compares numbers taken on the same machine at the same moment.
#pragma once

#include <cstdint>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/csr.hpp>

namespace diffuser::bench {

// STREAM-like triad a = b + s*c over arrays much larger than the caches, on every thread the
// CPU backend may use. Returns GB/s counting 3 arrays x 4 bytes per element (2 reads, 1 write).
double triad_gbps(std::int64_t elements_per_array, int reps);

// Peak single-precision FMA rate of this CPU on all threads (independent FMA chains in
// registers, no memory traffic), in GFLOP/s (an FMA counts 2).
double fma_peak_gflops();

// The straightforward single-threaded forward a user would write first: one loop over edges for
// the scores, std::exp in a per-row softmax, and one loop over edges per hop (PPR recursion).
// Writes Z (N, H, D); returns nothing else, timing is the caller's.
void naive_forward(const Csr& g, const Tensor3<float>& q, const Tensor3<float>& k, const Tensor3<float>& v,
                   int hops, float alpha, Tensor3<float>& z);

}  // namespace diffuser::bench
