// The Diffuser encoder stack for sequence classification, as the authors' model: token + position
// (+ token type) embeddings and LayerNorm, N encoder layers, and RoBERTa's classification head on
// the first token of each sequence. Forward, backward and weights (safetensors).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <diffuser/attention/batch.hpp>
#include <diffuser/attention/config.hpp>
#include <diffuser/attention/layer.hpp>
#include <diffuser/attention/params.hpp>
#include <diffuser/attention/safetensors.hpp>

namespace diffuser::attention {

struct ModelParams {
  Matrix<float> word, position, token_type;  // embeddings.{word,position,token_type}_embeddings.weight
  Norm emb_ln;                               // embeddings.LayerNorm
  std::vector<LayerParams> layers;           // encoder.layer.I.
  Norm final_ln;                             // encoder.LayerNorm (pre-LN only: the stack's last norm)
  Linear head_dense;                         // classifier.dense (d, d)
  Linear head_out;                           // classifier.out_proj (num_labels, d)

  ModelParams() = default;
  explicit ModelParams(const ModelConfig& c);  // uninitialised values
};

void visit(ModelParams& p, const ModelConfig& c, const TensorVisitor& f);
std::int64_t parameter_count(ModelParams& p, const ModelConfig& c);
void zero(ModelParams& p, const ModelConfig& c);
// The authors' _init_weights: N(0, initializer_range) for linear and embedding weights (the padding
// row of the word and position embeddings zeroed), zero biases, LayerNorm 1 / 0.
void init_model(ModelParams& p, const ModelConfig& c, std::uint64_t seed);
ModelParams load_model(const std::filesystem::path& path, const ModelConfig& c);
void save_model(const std::filesystem::path& path, ModelParams& p, const ModelConfig& c,
                safetensors::Writer::Storage storage = safetensors::Writer::Storage::f32);

// One graph per distinct layer pattern (attention_window lists may differ by layer).
struct ModelGraphs {
  std::vector<GraphBatch> graphs;
  std::vector<int> layer_graph;  // index into graphs, per layer
  const GraphBatch& for_layer(int l) const {
    return graphs[static_cast<std::size_t>(layer_graph[static_cast<std::size_t>(l)])];
  }
  // Sequences of the given lengths (block-diagonal), or B x N padded with `mask` (lengths all N).
  static ModelGraphs build(const ModelConfig& c, const std::vector<std::int64_t>& lengths,
                           const std::vector<std::uint8_t>& mask = {});
};

// What the backward of the stack keeps.
struct ModelCache {
  std::vector<std::int32_t> ids, positions;
  Matrix<float> emb_xhat;
  Buffer<float> emb_rstd;
  std::vector<Matrix<float>> hidden;  // input of layer l (hidden[0] = embeddings output), T x d
  std::vector<LayerCache> layers;
  Matrix<float> final_xhat;  // pre-LN: the final norm
  Buffer<float> final_rstd;
  Matrix<float> sequence_output;    // (T, d) the encoder's output
  Matrix<float> head_in, head_act;  // (B, d): first tokens after dropout; tanh output
};

// logits (B, num_labels). ids: T token ids (int), each in [0, vocab_size) (Error otherwise).
Matrix<float> model_forward(const ModelConfig& c, const ModelParams& p, const ModelGraphs& graphs,
                            const std::vector<std::int32_t>& ids, const RunMode& mode, ModelCache* cache,
                            LayerTimes* times = nullptr);
// Adds the gradients of every parameter into g (zero it first) given dL/dlogits.
void model_backward(const ModelConfig& c, const ModelParams& p, const ModelGraphs& graphs,
                    const ModelCache& cache, MatrixView<const float> dlogits, ModelParams& g,
                    const RunMode& mode, LayerTimes* times = nullptr);

// Mean cross-entropy of logits (B, L) against labels, and its gradient (B, L) when dlogits is given.
double cross_entropy(MatrixView<const float> logits, const std::vector<std::int32_t>& labels,
                     MatrixView<float> dlogits = {});

// RoBERTa position ids: pad_token_id for padding, pad_token_id + 1 + (index among the real tokens
// of its sequence) otherwise.
std::vector<std::int32_t> position_ids(const ModelConfig& c, const std::vector<std::int32_t>& ids,
                                       const std::vector<std::int64_t>& offsets);

}  // namespace diffuser::attention
