// The model configuration: a JSON file whose keys follow the authors' config.json (RoBERTa's plus
// attention_window, num_rand, num_glob), with diffuser's graph and diffusion keys added.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <diffuser/diffusion/coefficients.hpp>

namespace diffuser::attention {

struct ModelConfig {
  // The authors' keys (defaults: their config.json, RoBERTa-base sized).
  std::int64_t hidden_size = 768;
  std::int64_t num_attention_heads = 12;
  std::int64_t num_hidden_layers = 12;
  std::int64_t intermediate_size = 3072;
  std::vector<std::int64_t>
      attention_window;  // one per layer (an int in the file applies to all); default 64
  std::int64_t num_rand = 64;
  std::int64_t num_glob = 64;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  double layer_norm_eps = 1e-5;
  std::int64_t max_position_embeddings = 4098;
  std::int64_t vocab_size = 50265;
  std::int64_t type_vocab_size = 1;
  std::int64_t num_labels = 2;
  std::int64_t pad_token_id = 1;
  double initializer_range = 0.02;
  std::string hidden_act = "gelu";

  // diffuser's keys.
  std::string graph_pattern;       // "graph_pattern": expression; empty = blocks:W+random:R+global-random:G
  std::uint64_t graph_seed = 0;    // "graph_seed"
  int diffusion_hops = 5;          // "diffusion_hops" (K; 0 = plain attention)
  double diffusion_alpha = 0.1;    // "diffusion_alpha" (PPR teleport)
  double diffusion_heat_t = -1.0;  // "diffusion_heat_t" >= 0 selects the heat kernel
  std::vector<double> diffusion_theta;  // "diffusion_theta": theta_0..theta_K (excludes the above)
  double attention_hop_dropout_prob =
      -1.0;                     // "attention_hop_dropout_prob"; < 0: = attention_probs_dropout_prob
  bool pre_layer_norm = false;  // "pre_layer_norm": pre-LN instead of the authors' post-LN

  std::int64_t head_dim() const { return hidden_size / num_attention_heads; }
  double hop_dropout() const {
    return attention_hop_dropout_prob >= 0.0 ? attention_hop_dropout_prob : attention_probs_dropout_prob;
  }
  diffusion::Coefficients coefficients() const;
  // The graph of layer `layer`: graph_pattern, or the authors' recipe from its attention window.
  std::string pattern_for_layer(int layer) const;

  // Parameters of one layer and of the whole model (embeddings, layers, head), from the sizes,
  // in floating point so that absurd sizes cannot overflow.
  double layer_parameters() const;
  double model_parameters() const;

  // Throws Error naming `source` and the key for a value out of range or inconsistent.
  void validate(const std::string& source = "config") const;

  // Parses JSON text; "pattern", "hops", "alpha", "theta" and "heat" are accepted for graph_pattern,
  // diffusion_hops, diffusion_alpha, diffusion_theta and diffusion_heat_t. Unknown keys are ignored (the
  // authors' files carry many, e.g. bos_token_id), known keys must have the right type. Throws Error naming
  // `source` and the key.
  static ModelConfig from_json(const std::string& text, const std::string& source = "config");
  static ModelConfig load(const std::filesystem::path& path);
  // The JSON text of this config (every key written, attention_window as a list).
  std::string to_json() const;
};

}  // namespace diffuser::attention
