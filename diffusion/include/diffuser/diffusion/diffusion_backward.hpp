// Attention diffusion for training: the forward with dropout (on the weights and after each hop,
// as the authors' code), and the backward Z -> dQ, dK, dV for PPR, heat, general theta and K = 0.
#pragma once

#include <cstdint>
#include <vector>

#include <diffuser/diffusion/coefficients.hpp>
#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/ops.hpp>
#include <diffuser/engine/ops_backward.hpp>

namespace diffuser::diffusion {

// The forward as a list of hops out_k = a_k (A x_{k-1}) + b_k V with x_0 = V: the PPR recursion
// (a = 1 - alpha, b = alpha), Horner's scheme for theta (a_1 = theta_K, a_k = 1, b_k = theta_{K-k}),
// plain attention as one hop (a = 1, b = 0). With no hop at all (theta = {theta_0}) Z = v_scale V.
struct HopPlan {
  std::vector<float> a, b;  // entry k - 1 for hop k
  float v_scale = 0.0f;
  int hops() const { return static_cast<int>(a.size()); }
};
HopPlan hop_plan(const Coefficients& c);

// Dropout inside the diffusion, as in the authors' DiffuserSelfAttention: once on the attention
// weights after the softmax (p_weights), and on every hop's output including the last (p_hops).
// Plain attention (K = 0) drops only the weights, like a standard Transformer. Masks are regenerated
// from (seed, stream), never stored.
struct DiffusionDropout {
  float p_weights = 0.0f;
  float p_hops = 0.0f;
  std::uint64_t seed = 0;
  std::uint64_t stream = 0;
  // Which heads of the whole tensor the views hold (default: all of them). Masks are drawn from
  // logical indices over the whole tensor, so a call on heads [h0, h0 + g) of H ({h0, H}) applies
  // exactly the masks the call on all H heads applies to those heads.
  ops::HeadSlice heads;

  bool active() const { return p_weights > 0.0f || p_hops > 0.0f; }
  std::uint64_t weights_stream() const;
  std::uint64_t hop_stream(int k) const;
};

// How the backward gets the hop inputs x_1 .. x_{K-1} (x_0 = V), which the weight gradient needs
// in reverse order:
//   store:     recomputed once at the start of the backward (K - 1 hops) and held: (K - 1) node
//              buffers for the duration of the call;
//   recompute: recomputed from V for each hop as needed: K (K - 1) / 2 hops, 2 node buffers;
//   keep:      kept by the forward (diffuse_forward's hop_states) and handed to the backward
//              (BackwardOptions::hop_inputs): no hop is recomputed, but the K - 1 node buffers live
//              from the forward to the backward (per layer, in a stack).
enum class HopMemory { store, recompute, keep };

struct BackwardOptions {
  DiffusionDropout dropout;
  HopMemory memory = HopMemory::store;
  float scale = 0.0f;  // <= 0: 1 / sqrt(D)
  // keep: x_1 .. x_{K-1} as diffuse_forward kept them (same inputs, same dropout), shaped like v.
  std::vector<Tensor3View<const float>> hop_inputs;
  // The forward's weights (E, H) in CSR order before dropout (ForwardKeep::weights), or none: given,
  // the backward copies its heads' columns instead of recomputing them (two score passes per head
  // group fewer). The same bits either way: a head's weights do not depend on the heads computed
  // with it.
  MatrixView<const float> weights;
  // Head groups: the whole backward (weights recomputed, hop inputs recomputed, the K hop passes,
  // softmax and score backward) runs for heads [h0, h0 + H / G) at a time on strided sub-views, so
  // its graph-sized buffers (weights, weight gradient, node buffers) hold H / G heads instead of H.
  // Heads never interact, so the result is the same; G must divide H. 1: all heads at once.
  int head_groups = 1;
};

struct BackwardTimes {
  double weights_ms = 0;       // recomputing A (and A without dropout, when the weights drop)
  double hop_forward_ms = 0;   // recomputing hop inputs
  double hop_backward_ms = 0;  // the K fused hop backward passes (+ dV accumulation)
  double scores_ms = 0;        // softmax backward, dQ and dK
  double total_ms() const { return weights_ms + hop_forward_ms + hop_backward_ms + scores_ms; }
};

// Caller-owned buffers for what diffuse_forward can keep for a backward that recomputes nothing
// (BackwardOptions::weights, and hop_inputs with HopMemory::keep).
struct ForwardKeep {
  MatrixView<float> weights;             // (E, H): the weights before dropout; none: not kept
  std::vector<Tensor3View<float>> hops;  // x_1 .. x_{K-1}, each shaped like v; empty: not kept
};

// Views of kept hop states (BackwardOptions::hop_inputs).
std::vector<Tensor3View<const float>> views_of(const std::vector<Tensor3<float>>& states);

// Forward with dropout (training). Same result as diffuse() when dropout is inactive. The weights
// are computed here (and freed); `scratch` is a second node buffer shaped like v (needed when
// K >= 2 and hop_states is null; may be empty otherwise). out and scratch must not overlap q, k, v
// or each other. With hop_states, the hop outputs x_1 .. x_{K-1} are written into new buffers kept
// there (for HopMemory::keep) instead of ping-ponging through scratch.
void diffuse_forward(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                     Tensor3View<const float> v, ops::NodeMask mask, const Coefficients& c,
                     const DiffusionDropout& dropout, Tensor3View<float> out, Tensor3View<float> scratch,
                     float scale = 0.0f, std::vector<Tensor3<float>>* hop_states = nullptr);

// The same forward, writing what it keeps into the caller's buffers: the weights (before dropout)
// and/or the hop outputs x_1 .. x_{K-1} (the hops then need no scratch: with keep.hops empty and
// K >= 2, `scratch` as above). With K = 0 there are no weights and nothing is written to keep.
void diffuse_forward(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                     Tensor3View<const float> v, ops::NodeMask mask, const Coefficients& c,
                     const DiffusionDropout& dropout, Tensor3View<float> out, Tensor3View<float> scratch,
                     const ForwardKeep& keep, float scale = 0.0f);

// The backward: given dZ = dL/dZ, writes dq, dk, dv (overwritten; they may be strided views into one
// packed (N, 3, H, D) buffer, and must not overlap q, k, v or dz). The per-edge weights are
// recomputed from q and k (one fused score pass, E*H*4 bytes that need not live between forward and
// backward) unless options.weights hands over the forward's. Peak extra memory: backward_bytes().
void diffuse_backward(const Csr& g, const ReverseGraph& rg, Tensor3View<const float> q,
                      Tensor3View<const float> k, Tensor3View<const float> v, ops::NodeMask mask,
                      const Coefficients& c, Tensor3View<const float> dz, Tensor3View<float> dq,
                      Tensor3View<float> dk, Tensor3View<float> dv, const BackwardOptions& options = {},
                      BackwardTimes* times = nullptr);

// Bytes diffuse_backward allocates at its peak (weights + weight gradient + gradient ping-pong + hop
// inputs, each for H / head_groups heads), not counting its inputs, outputs and the reverse graph.
std::int64_t backward_bytes(std::int64_t n, std::int64_t edges, std::int64_t heads, std::int64_t dim,
                            int hops, HopMemory memory, int head_groups = 1);

// The automatic head-group count: the smallest divisor G of `heads` for which backward_bytes(...,
// G) <= budget_bytes (heads when even one head at a time exceeds the budget).
int auto_head_groups(std::int64_t n, std::int64_t edges, std::int64_t heads, std::int64_t dim, int hops,
                     HopMemory memory, std::int64_t budget_bytes);

}  // namespace diffuser::diffusion
