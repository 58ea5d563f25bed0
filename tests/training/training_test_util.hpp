// Small models and data sets for the training tests.
#pragma once

#include <diffuser/attention/config.hpp>
#include <diffuser/training/dataset.hpp>
#include <diffuser/training/tasks.hpp>

namespace diffuser::test::training {

// 2 layers, d_model 8, 2 heads; a window + global graph with K = 3 PPR hops; the ListOps vocabulary.
inline attention::ModelConfig tiny_config(double dropout = 0.0) {
  attention::ModelConfig c = attention::ModelConfig::from_json(R"({"hidden_size": 8, "num_attention_heads": 2,
      "num_hidden_layers": 2, "intermediate_size": 16, "vocab_size": 17, "max_position_embeddings": 40,
      "num_labels": 10, "pattern": "window:2+global-at:0", "hops": 3, "initializer_range": 0.2})");
  c.hidden_dropout_prob = dropout;
  c.attention_probs_dropout_prob = dropout;
  return c;
}

inline diffuser::training::Split as_split(const diffuser::training::TaskSet& t, const std::string& name) {
  diffuser::training::Split s;
  s.name = name;
  s.n = t.n;
  s.tokens = t.tokens;
  s.labels = t.labels;
  s.lengths = t.lengths;
  s.has_labels = true;
  return s;
}

// 24 ListOps sequences of 6..31 tokens.
inline diffuser::training::Split tiny_listops(std::uint64_t seed = 1, std::int64_t count = 24) {
  diffuser::training::ListOpsOptions o;
  o.n = 32;
  o.min_length = 5;
  return as_split(diffuser::training::generate_listops(o, count, seed, 0), "train");
}

}  // namespace diffuser::test::training
