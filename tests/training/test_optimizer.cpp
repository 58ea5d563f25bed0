// AdamW, the learning-rate schedules and gradient clipping against values computed by hand.
#include <catch2/catch.hpp>

#include <cmath>

#include <diffuser/attention/model.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/training/optimizer.hpp>
#include <diffuser/training/schedule.hpp>

#include "training/training_test_util.hpp"

using namespace diffuser;
using namespace diffuser::training;

TEST_CASE("AdamW: two steps against hand-computed values", "[cpu][training]") {
  // Step 1 moves every coordinate with a gradient by lr against its sign (m / sqrt(v) = sign g after
  // bias correction); weight decay first scales by 1 - lr wd.
  std::vector<float> p{1.0f, -2.0f, 0.5f}, m(3, 0.0f), v(3, 0.0f);
  const AdamWOptions o{0.9, 0.999, 1e-8, 0.1};
  std::vector<float> g1{0.1f, -0.2f, 0.0f};
  adamw_update(p.data(), g1.data(), m.data(), v.data(), 3, 1, 0.1, o, true);
  CHECK(p[0] == Approx(0.89).epsilon(1e-6));
  CHECK(p[1] == Approx(-1.88).epsilon(1e-6));
  CHECK(p[2] == Approx(0.495).epsilon(1e-6));
  CHECK(m[0] == Approx(0.01).epsilon(1e-6));
  CHECK(v[1] == Approx(4e-5).epsilon(1e-6));
  // Step 2: m = [0.019, 0.002, 0.1], v = [1.999e-5, 7.996e-5, 1e-3], bias corrections 0.19 and
  // 0.001999: sqrt(v / 0.001999) = [0.1, 0.2, 0.7072836], step size 0.1 / 0.19.
  std::vector<float> g2{0.1f, 0.2f, 1.0f};
  adamw_update(p.data(), g2.data(), m.data(), v.data(), 3, 2, 0.1, o, true);
  CHECK(p[0] == Approx(0.89 * 0.99 - 0.1).epsilon(1e-6));                            // 0.7811
  CHECK(p[1] == Approx(-1.88 * 0.99 - 0.1 / 0.19 * 0.01).epsilon(1e-6));             // -1.8664632
  CHECK(p[2] == Approx(0.495 * 0.99 - 0.1 / 0.19 * 0.1 / 0.7072836).epsilon(1e-5));  // 0.4156363
  CHECK(m[2] == Approx(0.1).epsilon(1e-6));
  CHECK(v[0] == Approx(1.999e-5).epsilon(1e-6));

  // No decay for this tensor: only the Adam step.
  std::vector<float> q{1.0f}, mq{0.0f}, vq{0.0f}, gq{-3.0f};
  adamw_update(q.data(), gq.data(), mq.data(), vq.data(), 1, 1, 0.01, o, false);
  CHECK(q[0] == Approx(1.01).epsilon(1e-6));
  CHECK_THROWS_AS(adamw_update(q.data(), gq.data(), mq.data(), vq.data(), 1, 0, 0.01, o, false), Error);
}

TEST_CASE("AdamW: weight decay skips biases and LayerNorm", "[cpu][training]") {
  CHECK(decays("encoder.layer.0.attention.self.query.weight"));
  CHECK(decays("embeddings.word_embeddings.weight"));
  CHECK(decays("classifier.out_proj.weight"));
  CHECK_FALSE(decays("encoder.layer.0.attention.self.query.bias"));
  CHECK_FALSE(decays("encoder.layer.1.output.LayerNorm.weight"));
  CHECK_FALSE(decays("embeddings.LayerNorm.bias"));

  // Through the model: a zero gradient leaves biases and LayerNorm unchanged and shrinks weights.
  const auto c = test::training::tiny_config();
  attention::ModelParams p(c), g(c);
  attention::init_model(p, c, 3);
  attention::zero(g, c);
  const auto before = named_tensors(p, c);
  std::vector<std::vector<float>> copy;
  for (const auto& t : before) copy.emplace_back(t.data, t.data + t.size);
  AdamW opt(c, AdamWOptions{0.9, 0.999, 1e-8, 0.5});
  opt.step(p, g, 0.1);
  CHECK(opt.t() == 1);
  const auto after = named_tensors(p, c);
  for (std::size_t k = 0; k < after.size(); ++k) {
    INFO(after[k].name);
    const float expect = decays(after[k].name) ? 0.95f : 1.0f;
    for (std::int64_t i = 0; i < after[k].size; ++i) REQUIRE(after[k].data[i] == copy[k][i] * expect);
  }
}

TEST_CASE("learning-rate schedules: warm-up, linear, cosine, constant", "[cpu][training]") {
  LrSchedule s{1e-3, 10, 110, Decay::linear, 0.0};
  CHECK(s.at(1) == Approx(1e-4));
  CHECK(s.at(5) == Approx(5e-4));
  CHECK(s.at(10) == Approx(1e-3));
  CHECK(s.at(60) == Approx(5e-4));  // halfway through the decay
  CHECK(s.at(85) == Approx(2.5e-4));
  CHECK(s.at(110) == Approx(0.0).margin(1e-15));
  CHECK(s.at(500) == Approx(0.0).margin(1e-15));
  s.min_ratio = 0.1;
  CHECK(s.at(110) == Approx(1e-4));
  CHECK(s.at(60) == Approx(5.5e-4));
  s = {1e-3, 10, 110, Decay::cosine, 0.0};
  CHECK(s.at(10) == Approx(1e-3));
  CHECK(s.at(35) == Approx(1e-3 * 0.5 * (1.0 + std::sqrt(0.5))));  // p = 1/4: 8.5355e-4
  CHECK(s.at(60) == Approx(5e-4));
  CHECK(s.at(85) == Approx(1e-3 * 0.5 * (1.0 - std::sqrt(0.5))));
  CHECK(s.at(110) == Approx(0.0).margin(1e-15));
  s = {2e-3, 4, 100, Decay::constant, 0.0};
  CHECK(s.at(2) == Approx(1e-3));
  CHECK(s.at(50) == Approx(2e-3));
  s = {1e-3, 0, 10, Decay::linear, 0.0};  // no warm-up: the decay starts at step 0
  CHECK(s.at(1) == Approx(9e-4));
  CHECK(parse_decay("cosine") == Decay::cosine);
  CHECK_THROWS_AS(parse_decay("step"), UsageError);
}

TEST_CASE("clipping by the global gradient norm", "[cpu][training]") {
  const auto c = test::training::tiny_config();
  attention::ModelParams g(c);
  attention::zero(g, c);
  auto t = named_tensors(g, c);
  t.front().data[0] = 3.0f;
  t.back().data[0] = 4.0f;  // norm 5 across two tensors
  CHECK(global_norm(g, c) == Approx(5.0));
  CHECK(clip_global_norm(g, c, 10.0) == Approx(5.0));  // below the limit: unchanged
  CHECK(t.front().data[0] == 3.0f);
  CHECK(clip_global_norm(g, c, 1.0) == Approx(5.0));
  CHECK(t.front().data[0] == Approx(0.6).epsilon(1e-6));
  CHECK(t.back().data[0] == Approx(0.8).epsilon(1e-6));
  CHECK(global_norm(g, c) == Approx(1.0).epsilon(1e-6));
  CHECK(clip_global_norm(g, c, 0.0) == Approx(1.0).epsilon(1e-6));  // 0: off
}
