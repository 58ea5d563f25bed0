// Multi-head Diffuser self-attention and the Transformer encoder layer over a GraphBatch, forward
// and backward, on flat token matrices (T, d_model): T = all tokens of the batch.
#pragma once

#include <cstdint>
#include <vector>

#include <diffuser/attention/batch.hpp>
#include <diffuser/attention/config.hpp>
#include <diffuser/attention/params.hpp>
#include <diffuser/diffusion/coefficients.hpp>
#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/engine/buffer.hpp>

namespace diffuser::attention {

struct LayerOptions {
  std::int64_t d_model = 0, heads = 0, intermediate = 0;
  float layer_norm_eps = 1e-5f;
  bool pre_layer_norm = false;
  diffusion::Coefficients coefficients = diffusion::Coefficients::ppr(5, 0.1);
  float p_hidden = 0.0f;        // hidden_dropout_prob: after the attention output and FFN output products
  float p_attn_weights = 0.0f;  // attention_probs_dropout_prob: on the weights after the softmax
  float p_attn_hops = 0.0f;     // on each hop's output (the authors use attention_probs_dropout_prob)
  diffusion::HopMemory hop_memory = diffusion::HopMemory::store;
  // Head groups of the attention backward (diffusion::BackwardOptions::head_groups): 0 = automatic
  // (attention_head_groups below), else G, a divisor of heads; 1 = all heads at once.
  int head_groups = 0;

  static LayerOptions from_config(const ModelConfig& c);
  LayerShape shape() const { return {d_model, heads, intermediate}; }
  std::int64_t head_dim() const { return d_model / heads; }
};

// Training (dropout on) or inference; the dropout masks of layer `layer` come from
// (seed, stream(layer, site)) and are regenerated in the backward.
struct RunMode {
  bool training = false;
  std::uint64_t seed = 0;
  int layer = 0;
};

// Dropout sites: separate random streams per layer and site.
enum class DropSite : std::uint64_t {
  attention = 1,
  attention_output = 2,
  ffn_output = 3,
  embeddings = 4,
  head = 5,
  head_out = 6
};
std::uint64_t dropout_stream(int layer, DropSite site);

// Where the time of a layer goes (accumulated over calls; milliseconds).
struct LayerTimes {
  double gemm_ms = 0;            // dense products (QKV, output, FFN) and their gradients
  double graph_forward_ms = 0;   // scores + softmax + K hops
  double graph_backward_ms = 0;  // diffuse_backward: recomputed weights/hops, hop backward, score backward
  double elementwise_ms = 0;     // bias, LayerNorm, GELU, dropout, residuals
  diffusion::BackwardTimes diffusion;  // detail of graph_backward_ms
  double total_ms() const { return gemm_ms + graph_forward_ms + graph_backward_ms + elementwise_ms; }
};

// What the backward of the self-attention needs from its forward: the packed projection (T, 3, H, D)
// and the diffusion output (T, d). The per-edge weights and hop states are recomputed instead,
// unless HopMemory::keep keeps them.
struct AttentionCache {
  Matrix<float> qkv;                 // (T, 3 d)
  Matrix<float> z;                   // (T, d)
  std::vector<Tensor3<float>> hops;  // HopMemory::keep only: the hop states x_1 .. x_{K-1}
  Matrix<float> weights;             // HopMemory::keep only (K >= 1): the weights (E, H) before dropout
  std::int64_t bytes() const;
};

// Self-attention: out (T, d) = Diffuse(Q, K, V) W_o^T + b_o with [Q K V] = x W_qkv^T + b_qkv, heads
// split as (T, H, D), scale 1 / sqrt(D), the batch's padding mask on the edge softmax. No dropout
// on the output here (the layer applies it). cache may be null (inference).
void attention_forward(const LayerOptions& o, const LayerParams& p, const GraphBatch& batch,
                       MatrixView<const float> x, MatrixView<float> out, const RunMode& mode,
                       AttentionCache* cache, LayerTimes* times = nullptr);
// dx (written, or added when accumulate_dx) and the gradients of qkv and attn_out (added into g).
void attention_backward(const LayerOptions& o, const LayerParams& p, const GraphBatch& batch,
                        MatrixView<const float> x, const AttentionCache& cache, MatrixView<const float> dout,
                        MatrixView<float> dx, bool accumulate_dx, LayerParams& g, const RunMode& mode,
                        LayerTimes* times = nullptr);

// What the encoder layer's backward keeps (besides its input, which the caller keeps).
struct LayerCache {
  AttentionCache attn;
  Matrix<float> xhat1, xhat2;  // LayerNorm normalised inputs (T, d)
  Buffer<float> rstd1, rstd2;  // (T)
  Matrix<float> pre_gelu;      // (T, I): FFN pre-activation (GELU and the LayerNorm outputs are recomputed)
  std::int64_t bytes() const;
};

// The encoder layer. Post-LN (the authors', RoBERTa's):
//   h = LN1(x + drop(Attn(x))),  y = LN2(h + drop(W2 GELU(W1 h + b1) + b2))
// Pre-LN:
//   h = x + drop(Attn(LN1(x))),  y = h + drop(FFN(LN2(h)))
// y may not alias x. cache may be null (inference).
void layer_forward(const LayerOptions& o, const LayerParams& p, const GraphBatch& batch,
                   MatrixView<const float> x, MatrixView<float> y, const RunMode& mode, LayerCache* cache,
                   LayerTimes* times = nullptr);
// dx (overwritten) and the parameter gradients (added into g: zero it first for one step).
void layer_backward(const LayerOptions& o, const LayerParams& p, const GraphBatch& batch,
                    MatrixView<const float> x, const LayerCache& cache, MatrixView<const float> dy,
                    MatrixView<float> dx, LayerParams& g, const RunMode& mode, LayerTimes* times = nullptr);

// Bytes a training step keeps per layer between forward and backward (node data; with
// HopMemory::keep the hop states and the E x H weights too), and the peak extra bytes a layer's
// backward allocates (graph-dependent parts included, with the head groups attention_head_groups
// gives).
std::int64_t layer_cache_bytes(const LayerOptions& o, std::int64_t tokens, std::int64_t edges);
std::int64_t layer_backward_peak_bytes(const LayerOptions& o, std::int64_t tokens, std::int64_t edges);
// The peak bytes a training forward allocates (its cache included), and the peak of a training step
// of one layer: the larger of the forward's and the cache + the backward's. Not counted: the
// caller's input, output, dY, dX and parameter gradients, the graph, allocator slack.
std::int64_t layer_forward_peak_bytes(const LayerOptions& o, std::int64_t tokens, std::int64_t edges);
std::int64_t layer_step_peak_bytes(const LayerOptions& o, std::int64_t tokens, std::int64_t edges);

// The head groups the attention backward uses: o.head_groups when set (checked to divide the
// heads), else automatic: the fewest groups for which the diffusion backward's transient
// (diffusion::backward_bytes) is at most head_group_budget_bytes: the packed QKV gradient the
// attention backward writes anyway (T x 3 d floats), so the graph-sized buffers are never larger than
// the node-sized ones beside them. Every head alone when even one head exceeds it.
int attention_head_groups(const LayerOptions& o, std::int64_t tokens, std::int64_t edges);
std::int64_t head_group_budget_bytes(const LayerOptions& o, std::int64_t tokens);

}  // namespace diffuser::attention
