// The encoder stack (embeddings, layers, classification head): its gradients against finite
// differences of the float32 model (loose: float32 forward) for post-LN and pre-LN, training
// reproducibility, and RoBERTa position ids.
#include <catch2/catch.hpp>

#include <diffuser/attention/model.hpp>
#include <diffuser/engine/error.hpp>

using namespace diffuser;
using namespace diffuser::attention;

namespace {

ModelConfig tiny(bool pre_ln, double dropout = 0.0) {
  ModelConfig c =
      ModelConfig::from_json(R"({"hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 2,
      "intermediate_size": 16, "vocab_size": 20, "max_position_embeddings": 24, "num_labels": 3,
      "graph_pattern": "window:2+global-at:0", "diffusion_hops": 3, "initializer_range": 0.5})");
  c.pre_layer_norm = pre_ln;
  c.hidden_dropout_prob = dropout;
  c.attention_probs_dropout_prob = dropout;
  return c;
}

}  // namespace

TEST_CASE("model gradients against finite differences (float32, loose)", "[cpu][attention][model]") {
  const bool pre_ln = GENERATE(false, true);
  CAPTURE(pre_ln);
  const ModelConfig c = tiny(pre_ln);
  ModelParams p(c);
  init_model(p, c, 4);
  const std::vector<std::int64_t> lengths{5, 7};
  const ModelGraphs graphs = ModelGraphs::build(c, lengths);
  const std::vector<std::int32_t> ids{0, 5, 7, 3, 2, 0, 9, 9, 4, 11, 6, 2};
  const std::vector<std::int32_t> labels{2, 0};
  auto loss = [&] {
    const Matrix<float> logits = model_forward(c, p, graphs, ids, {}, nullptr);
    return cross_entropy(logits.view(), labels);
  };
  ModelCache cache;
  const Matrix<float> logits = model_forward(c, p, graphs, ids, {}, &cache);
  Matrix<float> dlogits(2, 3);
  cross_entropy(logits.view(), labels, dlogits.view());
  ModelParams gr(c);
  zero(gr, c);
  model_backward(c, p, graphs, cache, dlogits.view(), gr, {});

  // Each named tensor: a few coordinates, central differences with step 1e-2 in float32.
  std::vector<std::pair<std::string, std::vector<float>>> grads;
  visit(gr, c, [&](const std::string& name, float* data, const std::vector<std::int64_t>& shape) {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    grads.emplace_back(name, std::vector<float>(data, data + n));
  });
  std::size_t t = 0;
  double num = 0, den = 0;
  visit(p, c, [&](const std::string& name, float* data, const std::vector<std::int64_t>& shape) {
    const auto& g = grads[t++].second;
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    // Coordinates with a nonzero gradient (embedding rows of unused tokens have none).
    std::vector<std::int64_t> picks;
    for (std::int64_t i = 0; i < n && picks.size() < 3; i += 1 + n / 7)
      if (g[static_cast<std::size_t>(i)] != 0.0f) picks.push_back(i);
    for (auto i : picks) {
      const float x0 = data[i];
      const float h = 1e-2f;
      data[i] = x0 + h;
      const double lp = loss();
      data[i] = x0 - h;
      const double lm = loss();
      data[i] = x0;
      const double fd = (lp - lm) / (2.0 * h);
      const double an = g[static_cast<std::size_t>(i)];
      INFO(name << "[" << i << "]: finite difference " << fd << ", backward " << an);
      CHECK(std::abs(fd - an) <= 2e-2 * std::max(std::abs(an), 1e-2) + 2e-4);
      num += (fd - an) * (fd - an);
      den += an * an;
    }
  });
  CHECK(std::sqrt(num / den) <= 1e-2);
}

TEST_CASE("model: training is reproducible from the seed, inference is deterministic",
          "[cpu][attention][model]") {
  const ModelConfig c = tiny(false, 0.2);
  ModelParams p(c);
  init_model(p, c, 1);
  const ModelGraphs graphs = ModelGraphs::build(c, {6, 6}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0});
  const std::vector<std::int32_t> ids{0, 4, 5, 6, 7, 2, 0, 8, 9, 2, 1, 1};
  auto run = [&](RunMode m) { return model_forward(c, p, graphs, ids, m, nullptr).buffer().to_vector(); };
  REQUIRE(run({}) == run({false, 3, 0}));
  REQUIRE(run({true, 3, 0}) == run({true, 3, 0}));
  REQUIRE(run({true, 3, 0}) != run({true, 4, 0}));
  REQUIRE(run({true, 3, 0}) != run({}));
}

TEST_CASE("model: position ids follow RoBERTa, bad token ids are refused", "[cpu][attention][model]") {
  const ModelConfig c = tiny(false);
  const auto pos = position_ids(c, {0, 5, 1, 1, 3, 4, 1}, {0, 4, 7});
  CHECK(pos == std::vector<std::int32_t>{2, 3, 1, 1, 2, 3, 1});
  ModelParams p(c);
  init_model(p, c, 1);
  const ModelGraphs graphs = ModelGraphs::build(c, {3});
  REQUIRE_THROWS_WITH(model_forward(c, p, graphs, {0, 20, 1}, {}, nullptr),
                      Catch::Contains("outside [0, 20)"));
  REQUIRE_THROWS_WITH(model_forward(c, p, graphs, {0, 1}, {}, nullptr), Catch::Contains("2 token ids"));
  REQUIRE_THROWS_WITH(position_ids(c, std::vector<std::int32_t>(30, 5), {0, 30}),
                      Catch::Contains("real tokens"));
}
