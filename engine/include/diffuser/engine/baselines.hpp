// GPU measurement support for `diffuser bench` and the tests: in-process baselines that compute the
// same diffusion with vendor libraries (cuSPARSE, dense cuBLAS), the device copy bandwidth, peak
// device memory, and the CUDA backend's kernel schedule. Every function works in any build: without
// CUDA they throw Error (or return 0 for the memory counters).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/tensor.hpp>

namespace diffuser::baselines {

// Device memory allocated through the engine (Buffers, the CUDA backend's scratch, the baselines'
// matrices and library workspaces, csr_from_edges's Thrust temporaries), now and at its highest
// since the last reset. Allocations a library makes on its own (cuBLAS's small default workspace)
// are not counted.
std::int64_t device_bytes_in_use();
std::int64_t peak_device_bytes();
void reset_peak_device_bytes();

// A device-to-device copy of `bytes`: median GB/s over `reps` runs, counting bytes read + written.
double device_copy_gbps(std::int64_t bytes, int reps);

// Captures what f enqueues on the current context's stream (which must not be the legacy default
// stream) into a CUDA graph, replays it `replays` times, and returns the median ms of a replay.
// Everything f does must be capturable: no synchronisation, no copy to host memory.
double cuda_graph_replay_ms(const std::function<void()>& f, int replays);

struct Timing {
  double scores_ms = 0;         // median of the scores (SDDMM / GEMM) stage
  double softmax_ms = 0;        // median of the softmax stage
  double hop_ms = 0;            // median of one hop
  double total_ms = 0;          // median of the whole forward, timed end to end (no syncs inside)
  std::int64_t peak_bytes = 0;  // peak device memory of the baseline above what was in use before
};

// PPR diffusion (Z_0 = V, Z_{k+1} = (1 - alpha) A Z_k + alpha V, K hops; K = 0: Z = A V) with the
// heads stacked block-diagonally into one (H*N, H*N) CSR as the peers script does: Q, K, V
// permuted to (H, N, D), cusparseSDDMM for the scores, a segmented softmax kernel, cusparseSpMM
// per hop (beta = alpha on a copy of V), Z permuted back. All operands on the GPU, contiguous
// (N, H, D) float32. One warm-up, then `reps` timed runs (medians). Throws Error when the problem
// does not fit (index range, memory).
Timing cusparse_forward(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                        Tensor3View<const float> v, int hops, float alpha, Tensor3View<float> out, int reps);

// The same with dense masked attention through cuBLAS: per head S = Q K^T (N x N, strided batched
// SGEMM, no TF32), a masked softmax over each row (entries off the graph get 0), then one dense
// (N x N) x (N x D) SGEMM per head and hop. Needs H*N*N*4 bytes; throws Error above `max_n`.
Timing dense_forward(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                     Tensor3View<const float> v, int hops, float alpha, Tensor3View<float> out, int reps,
                     std::int64_t max_n = 16384);

// The CUDA backend's kernel schedule is an option of the execution context (CudaOptions::schedule,
// DIFFUSER_CUDA_SCHEDULE; Context::cuda_schedule_text shows it): a comma-separated list of
// key=value (unnamed keys keep their default):
//   hop=auto|w32|w16|w8|h2|row  hop kernel: one warp per (row, head) with 32/16/8 lanes per
//                           edge, h2 = one warp per (row, 2 heads), row = one warp per row, all
//                           heads (default auto: w16 for float32 rows, w8 for bf16)
//   step=8|16|32            edges loaded per step by the hop kernel (default 8; capped at what
//                           fits about 32 registers)
//   score=s8|s16|s32        score kernel: lanes per edge in the dot products (default s8)
//   sstep=8|16|32           edges loaded per step by the score kernel (default 8)
//   layout=hm|em            per-edge weights head-major (H, E) or edge-major (E, H) inside the
//                           forward (default hm)
//   hub=N                   rows with in-degree above N take the split hub path (0: the default
//                           rule, > max(1024, min(4096, 8 x mean degree)); -1: never)
//   panel=0|1               bf16 rows with D = 64 and hop=auto: the sources most rows of a 32-row
//                           tile share are multiplied as a dense panel on tensor cores, and the
//                           hub rows' hops and scores run as tile products on tensor cores (the
//                           plan is built on the device at a graph's first use); 0: off
// "default" resets everything.

// Edges of g (on the GPU) that the bf16 hop's dense panels cover under the current schedule (0:
// the hop gathers every edge). Builds the panel plan (kept in g's plans) on first use.
std::int64_t cuda_panel_edges(const Csr& g);
// "" when the device-built panel plan of g equals the host-built reference array for array, else
// the first difference (tests).
std::string cuda_panel_plan_differences(const Csr& g);

}  // namespace diffuser::baselines
