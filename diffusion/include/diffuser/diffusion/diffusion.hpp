// Attention diffusion forward: per-edge attention weights A = softmax(q_i . k_j / sqrt(D)) over
// each token's incoming edges, then Z = sum_k theta_k A^k V computed hop by hop on the graph.
#pragma once

#include <vector>

#include <diffuser/diffusion/coefficients.hpp>
#include <diffuser/engine/bf16.hpp>
#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/ops.hpp>

namespace diffuser::diffusion {

struct StageTimes {
  double scores_ms = 0;        // scores + softmax (fused)
  double prepare_ms = 0;       // weights packed for the hops (ops::prepare_hops; GPU bf16), else 0
  std::vector<double> hop_ms;  // one entry per hop
  double total_ms() const;
};

// Throws Error naming the tensor and element when q, k or v holds NaN or Inf.
void check_finite(Tensor3View<const float> x, const char* name);
void check_finite(Tensor3View<const bf16> x, const char* name);

// A (E, H) in CSR order on the graph's device. scale <= 0 means 1 / sqrt(D).
Matrix<float> attention_weights(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                                ops::NodeMask mask = {}, float scale = 0.0f);
void attention_weights(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                       ops::NodeMask mask, float scale, MatrixView<float> weights);
// Into EdgeWeights (the device's own layout: what diffuse_values reads fastest); bf16 Q and K
// have float32 dot products and weights.
void attention_weights(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                       ops::NodeMask mask, float scale, ops::EdgeWeights& weights);
void attention_weights(const Csr& g, Tensor3View<const bf16> q, Tensor3View<const bf16> k, ops::NodeMask mask,
                       float scale, ops::EdgeWeights& weights);

// out = sum_k theta_k A^k V given the weights. `scratch` is a second node buffer of v's shape used
// for ping-pong between hops (may be empty when hops <= 1); neither may overlap v. No host round
// trip happens between hops (unless `times` asks for per-hop timings, which synchronise).
// weights: (E, H) in CSR order, or EdgeWeights.
void diffuse_values(const Csr& g, MatrixView<const float> weights, Tensor3View<const float> v,
                    const Coefficients& c, Tensor3View<float> out, Tensor3View<float> scratch,
                    StageTimes* times = nullptr);
void diffuse_values(const Csr& g, const ops::EdgeWeights& weights, Tensor3View<const float> v,
                    const Coefficients& c, Tensor3View<float> out, Tensor3View<float> scratch,
                    StageTimes* times = nullptr);
// bf16 V, Z and hop buffers (float32 weights and accumulation; each hop rounds once).
void diffuse_values(const Csr& g, const ops::EdgeWeights& weights, Tensor3View<const bf16> v,
                    const Coefficients& c, Tensor3View<bf16> out, Tensor3View<bf16> scratch,
                    StageTimes* times = nullptr);

// The whole forward with its own buffers (for tests and small jobs).
Tensor3<float> diffuse(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                       Tensor3View<const float> v, const Coefficients& c, ops::NodeMask mask = {},
                       StageTimes* times = nullptr);
Tensor3<bf16> diffuse(const Csr& g, Tensor3View<const bf16> q, Tensor3View<const bf16> k,
                      Tensor3View<const bf16> v, const Coefficients& c, ops::NodeMask mask = {},
                      StageTimes* times = nullptr);

// Bytes a forward needs on its device: graph + weights + `node_buffers` (N, H, D) arrays of
// `element_bytes` each (4 for fp32, 2 for bf16).
std::int64_t forward_bytes(std::int64_t n, std::int64_t edges, std::int64_t heads, std::int64_t dim,
                           int node_buffers = 4, int element_bytes = 4);

}  // namespace diffuser::diffusion
