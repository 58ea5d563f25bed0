#include <algorithm>
#include <regex>

#include <diffuser/engine/error.hpp>

#include "train_setup.hpp"

namespace diffuser::cli {

namespace fs = std::filesystem;
using attention::ModelConfig;
using namespace diffuser::training;

std::vector<std::pair<std::int64_t, fs::path>> checkpoints_in(const fs::path& dir) {
  std::vector<std::pair<std::int64_t, fs::path>> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  static const std::regex re("checkpoint-([0-9]+)\\.safetensors");
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (std::regex_match(name, m, re)) out.emplace_back(std::stoll(m[1].str()), e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool holds_run(const fs::path& dir) {
  return fs::exists(dir / "log.csv") || fs::exists(dir / "final.safetensors") || !checkpoints_in(dir).empty();
}

std::string describe_diffusion(const ModelConfig& c) {
  if (!c.diffusion_theta.empty()) return cat("theta (", c.diffusion_theta.size(), " values)");
  if (c.diffusion_hops == 0) return "K = 0 (plain attention)";
  if (c.diffusion_heat_t >= 0.0) return cat("K = ", c.diffusion_hops, " heat t = ", c.diffusion_heat_t);
  return cat("K = ", c.diffusion_hops, " PPR alpha = ", c.diffusion_alpha);
}

TrainFlags read_train_flags(Args& args) {
  TrainFlags f;
  auto i64 = [&](const char* name, std::int64_t& out) {
    if (auto v = args.get_int(name)) {
      out = *v;
      f.given.insert(name);
    }
  };
  auto dbl = [&](const char* name, double& out) {
    if (auto v = args.get_double(name)) {
      out = *v;
      f.given.insert(name);
    }
  };
  TrainOptions& o = f.o;
  const auto steps = args.get_int("steps");
  if (!steps) throw UsageError("missing required option --steps");
  o.steps = *steps;
  i64("batch", o.batch);
  i64("accumulate", o.accumulate);
  dbl("lr", o.schedule.base);
  i64("warmup", o.schedule.warmup);
  if (auto d = args.get("decay")) {
    o.schedule.decay = parse_decay(*d);
    f.given.insert("decay");
  }
  dbl("min-lr-ratio", o.schedule.min_ratio);
  dbl("weight-decay", o.adam.weight_decay);
  dbl("beta1", o.adam.beta1);
  dbl("beta2", o.adam.beta2);
  dbl("eps", o.adam.eps);
  dbl("clip", o.clip);
  std::int64_t seed = 0;
  i64("seed", seed);
  if (seed < 0) throw UsageError(cat("--seed must be >= 0, got ", seed));
  o.seed = static_cast<std::uint64_t>(seed);
  if (args.flag("no-shuffle")) {
    o.shuffle = false;
    f.given.insert("no-shuffle");
  }
  o.schedule.total = o.steps;
  return f;
}

TrainOptions merge_resumed(const TrainFlags& f, const TrainOptions& saved, const fs::path& ckpt) {
  TrainOptions o = saved;
  const TrainOptions& g = f.o;
  auto take = [&](const char* flag, auto& field, const auto& value) {
    if (f.given.count(flag)) field = value;
  };
  take("batch", o.batch, g.batch);
  take("accumulate", o.accumulate, g.accumulate);
  take("lr", o.schedule.base, g.schedule.base);
  take("warmup", o.schedule.warmup, g.schedule.warmup);
  take("decay", o.schedule.decay, g.schedule.decay);
  take("min-lr-ratio", o.schedule.min_ratio, g.schedule.min_ratio);
  take("weight-decay", o.adam.weight_decay, g.adam.weight_decay);
  take("beta1", o.adam.beta1, g.adam.beta1);
  take("beta2", o.adam.beta2, g.adam.beta2);
  take("eps", o.adam.eps, g.adam.eps);
  take("clip", o.clip, g.clip);
  take("seed", o.seed, g.seed);
  take("no-shuffle", o.shuffle, g.shuffle);
  const std::string d = options_difference(saved, o);
  if (!d.empty())
    throw UsageError(cat("--resume ", ckpt.string(), ": the run was trained with other settings (", d,
                         " given); a resumed run keeps its settings"));
  o.steps = g.steps;
  o.schedule.total = g.steps;
  return o;
}

}  // namespace diffuser::cli
