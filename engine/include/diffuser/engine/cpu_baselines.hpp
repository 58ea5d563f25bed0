// CPU baselines that `diffuser bench` measures in the same process as the engine, so that every
// ratio it prints compares numbers taken on the same machine, at the same CPU level, at the same
// moment. Compiled once per CPU level like the kernels (the naive loops are vectorised by the
// compiler for the level in use, not left at the baseline ISA). Part of diffuser_baselines.
#pragma once

#include <cstdint>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/csr.hpp>

namespace diffuser::baselines {

// STREAM-like triad a = b + s*c over arrays much larger than the caches, on the current context's
// threads. GB/s counting 3 arrays x 4 bytes per element (2 reads, 1 write); median of `reps`.
double triad_gbps(std::int64_t elements_per_array, int reps);

// Peak single-precision FMA rate on the context's threads at its CPU level (independent chains of
// vector FMAs as wide as the level's vectors: 16 floats at avx512, 8 below; the generic x86-64
// level has no FMA and counts a multiply and an add), in GFLOP/s (an FMA counts 2).
double fma_peak_gflops();

// The straightforward forward a user would write first: one loop over edges for the scores,
// std::exp in a per-row softmax, one loop over edges per hop (PPR recursion). Writes Z (N, H, D).
// threads == 1: single-threaded; otherwise the same loops with the destination rows split over
// the context's threads (tbb::parallel_for), as a first parallel version would be.
void naive_forward(const Csr& g, const Tensor3<float>& q, const Tensor3<float>& k, const Tensor3<float>& v,
                   int hops, float alpha, Tensor3<float>& z, bool parallel = false);

}  // namespace diffuser::baselines
