// The training loop: reproducible steps, bitwise resume through a checkpoint, gradient
// accumulation, checkpoint corruption and config checks, evaluation, learning an easy task.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <diffuser/engine/error.hpp>
#include <diffuser/training/checkpoint.hpp>
#include <diffuser/training/trainer.hpp>

#include "tools/cli_runner.hpp"
#include "training/training_test_util.hpp"

using namespace diffuser;
using namespace diffuser::training;
using Catch::Contains;
using diffuser::test::cli::TempDir;
namespace fs = std::filesystem;
namespace tt = diffuser::test::training;

namespace {

TrainOptions options(std::int64_t steps, std::int64_t batch = 4, std::int64_t accumulate = 1) {
  TrainOptions o;
  o.steps = steps;
  o.batch = batch;
  o.accumulate = accumulate;
  o.schedule = {3e-3, 2, steps, Decay::cosine, 0.0};
  o.clip = 0.5;
  o.seed = 11;
  return o;
}

std::vector<float> flat(attention::ModelParams& p, const attention::ModelConfig& c) {
  std::vector<float> out;
  for (const auto& t : named_tensors(p, c)) out.insert(out.end(), t.data, t.data + t.size);
  return out;
}

attention::ModelParams initial(const attention::ModelConfig& c, std::uint64_t seed = 11) {
  attention::ModelParams p(c);
  attention::init_model(p, c, seed);
  return p;
}

}  // namespace

TEST_CASE("trainer: the same seed gives the same bits, and resuming from a checkpoint is bitwise",
          "[cpu][training]") {
  const auto c = tt::tiny_config(0.1);  // dropout on: its masks must follow the step too
  const Split data = tt::tiny_listops();
  const TrainOptions o = options(5, 4, 2);

  Trainer a(c, o, data, initial(c)), b(c, o, data, initial(c));
  std::vector<double> losses;
  for (int s = 0; s < 5; ++s) {
    const auto sa = a.step(), sb = b.step();
    REQUIRE(sa.loss == sb.loss);
    REQUIRE(sa.grad_norm == sb.grad_norm);
    losses.push_back(sa.loss);
  }
  REQUIRE(flat(a.params(), c) == flat(b.params(), c));
  CHECK(a.cursor() == 5 * 8);

  // Two steps, a checkpoint, a fresh trainer from it, three more steps: a's bits.
  TempDir dir;
  const fs::path ckpt = dir / checkpoint_name(2);
  Trainer first(c, o, data, initial(c));
  first.step();
  first.step();
  CheckpointState st;
  st.step = first.step_count();
  st.cursor = first.cursor();
  st.seed = o.seed;
  st.config_json = c.to_json();
  st.options_json = o.to_json();
  st.data_fingerprint = fingerprint(data);
  save_checkpoint(ckpt, c, first.params(), first.optimizer(), st);

  const CheckpointState read = read_checkpoint_state(ckpt);
  CHECK(read.step == 2);
  CHECK(read.cursor == 16);
  CHECK(read.data_fingerprint == fingerprint(data));
  CHECK(TrainOptions::from_json(read.options_json, "x").to_json() == o.to_json());
  attention::ModelParams zero_init(c);
  Trainer resumed(c, o, data, std::move(zero_init));
  load_checkpoint(ckpt, c, resumed.params(), resumed.optimizer());
  resumed.restore(read.step);
  for (int s = 2; s < 5; ++s) REQUIRE(resumed.step().loss == losses[static_cast<std::size_t>(s)]);
  CHECK(flat(resumed.params(), c) == flat(a.params(), c));
  CHECK(flat(resumed.optimizer().exp_avg_sq(), c) == flat(a.optimizer().exp_avg_sq(), c));
}

TEST_CASE("trainer: accumulating A micro-batches of B is one batch of A x B", "[cpu][training]") {
  const auto c = tt::tiny_config();
  const Split data = tt::tiny_listops();
  TrainOptions one = options(1, 6, 1), two = options(1, 3, 2);
  one.shuffle = two.shuffle = false;
  Trainer a(c, one, data, initial(c)), b(c, two, data, initial(c));
  const StepStats sa = a.compute_gradients(), sb = b.compute_gradients();
  CHECK(sa.loss == Approx(sb.loss).epsilon(1e-6));
  CHECK(sa.tokens == sb.tokens);
  CHECK(sa.sequences == 6);
  const auto ga = flat(a.gradients(), c), gb = flat(b.gradients(), c);
  double num = 0, den = 0;
  for (std::size_t i = 0; i < ga.size(); ++i) {
    num += (ga[i] - gb[i]) * (ga[i] - gb[i]);
    den += ga[i] * ga[i];
  }
  CHECK(std::sqrt(num / den) < 1e-5);
}

TEST_CASE("checkpoints: corrupt files, other weights files, config differences", "[cpu][training]") {
  const auto c = tt::tiny_config();
  const Split data = tt::tiny_listops();
  Trainer t(c, options(3), data, initial(c));
  t.step();
  TempDir dir;
  const fs::path ckpt = dir / "c.safetensors";
  CheckpointState st;
  st.step = 1;
  st.cursor = 4;
  st.config_json = c.to_json();
  st.options_json = options(3).to_json();
  save_checkpoint(ckpt, c, t.params(), t.optimizer(), st);

  attention::ModelParams p(c);
  AdamW opt(c, {});
  load_checkpoint(ckpt, c, p, opt);  // intact

  // One flipped byte near the end (tensor data): the checksum catches it.
  std::string bytes = diffuser::test::cli::read_file(ckpt);
  bytes[bytes.size() - 10] = static_cast<char>(bytes[bytes.size() - 10] ^ 0x40);
  diffuser::test::cli::write_file(dir / "flipped.safetensors", bytes);
  CHECK_THROWS_WITH(load_checkpoint(dir / "flipped.safetensors", c, p, opt), Contains("checksum"));
  // Truncated: the header promises more data than there is.
  diffuser::test::cli::write_file(dir / "short.safetensors", bytes.substr(0, bytes.size() / 2));
  CHECK_THROWS_AS(read_checkpoint_state(dir / "short.safetensors"), Error);
  // A weights file is not a checkpoint.
  attention::save_model(dir / "w.safetensors", t.params(), c);
  CHECK_THROWS_WITH(read_checkpoint_state(dir / "w.safetensors"),
                    Contains("not a diffuser training checkpoint"));

  attention::ModelConfig other = c;
  CHECK(config_difference(c, other).empty());
  other.intermediate_size = 32;
  CHECK(config_difference(c, other) == "intermediate_size: 16 vs 32");
  other = c;
  other.diffusion_hops = 5;
  CHECK_THAT(config_difference(c, other), Contains("diffusion_hops: 3 vs 5"));
  // A model of another shape cannot read the checkpoint.
  other = c;
  other.intermediate_size = 32;
  attention::ModelParams wide(other);
  AdamW wide_opt(other, {});
  CHECK_THROWS_WITH(load_checkpoint(ckpt, other, wide, wide_opt), Contains("intermediate.dense."));
}

TEST_CASE("trainer: learns an easy retrieval task, evaluation, config checks", "[cpu][training]") {
  RetrievalOptions r;
  r.n = 12;
  r.distance = 3;
  r.keys = 2;
  r.values = 4;
  r.filler = 4;
  const Split train = tt::as_split(generate_retrieval(r, 64, 1, 0), "train");
  const Split valid = tt::as_split(generate_retrieval(r, 32, 1, 1), "valid");
  attention::ModelConfig c = tt::tiny_config();
  c.vocab_size = retrieval_info(r).vocab_size;
  c.num_labels = 4;
  c.hidden_size = 16;
  c.intermediate_size = 32;
  TrainOptions o = options(80, 8);
  o.schedule = {1e-2, 5, 80, Decay::linear, 0.0};
  o.clip = 1.0;
  Trainer t(c, o, train, initial(c));
  const auto before = *evaluate(c, t.params(), valid, 8);
  while (t.step_count() < o.steps) t.step();
  const auto after = *evaluate(c, t.params(), valid, 5, 0, true);
  CHECK(after.count == 32);
  CHECK(after.logits.size() == 32 * 4);
  CHECK(after.loss < before.loss);
  CHECK(after.accuracy() > 0.6);
  const auto again = *evaluate(c, t.params(), valid, 32);
  CHECK(again.predictions == after.predictions);
  CHECK_FALSE(evaluate(c, t.params(), valid, 8, 0, false, [] { return true; }).has_value());

  DatasetMeta meta{"retrieval", c.vocab_size, 4, 1};
  check_config_for_data(c, "c.json", meta, 12, "data");
  meta.num_classes = 5;
  CHECK_THROWS_WITH(check_config_for_data(c, "c.json", meta, 12, "data"), Contains("num_labels"));
  meta = {"retrieval", c.vocab_size + 1, 4, 1};
  CHECK_THROWS_WITH(check_config_for_data(c, "c.json", meta, 12, "data"), Contains("vocab_size"));
  meta = {"retrieval", c.vocab_size, 4, 1};
  CHECK_THROWS_WITH(check_config_for_data(c, "c.json", meta, 39, "data"),
                    Contains("max_position_embeddings"));
}

TEST_CASE("config: the short keys pattern, hops, alpha, theta, heat", "[cpu][training]") {
  using attention::ModelConfig;
  const ModelConfig a = ModelConfig::from_json(R"({"pattern": "window:3", "hops": 2, "alpha": 0.3})");
  CHECK(a.graph_pattern == "window:3");
  CHECK(a.diffusion_hops == 2);
  CHECK(a.diffusion_alpha == 0.3);
  const ModelConfig h = ModelConfig::from_json(R"({"heat": 1.5, "hops": 4})");
  CHECK(h.diffusion_heat_t == 1.5);
  CHECK(h.coefficients().kind() == diffusion::Coefficients::Kind::heat);
  const ModelConfig t = ModelConfig::from_json(R"({"theta": [0.5, 0.5]})");
  CHECK(t.diffusion_hops == 1);
  CHECK(ModelConfig::from_json(a.to_json()).to_json() == a.to_json());
  CHECK_THROWS_WITH(ModelConfig::from_json(R"({"hops": 2, "diffusion_hops": 3})", "c.json"),
                    Contains("\"hops\" and \"diffusion_hops\" are the same key"));
  CHECK_THROWS_WITH(ModelConfig::from_json(R"({"pattern": "window:x"})", "c.json"),
                    Contains("graph_pattern"));
}
