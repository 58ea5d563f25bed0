#include <cmath>

#include <nlohmann/json.hpp>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/training/trainer.hpp>

namespace diffuser::training {

using attention::ModelCache;
using attention::ModelConfig;
using attention::ModelGraphs;
using attention::ModelParams;
using diffuser::Matrix;
using json = nlohmann::json;

namespace {

constexpr std::uint64_t kDropoutStream = 0x44524F504F5554ull;

}  // namespace

void TrainOptions::validate() const {
  if (steps < 1) throw UsageError(cat("--steps must be >= 1, got ", steps));
  if (batch < 1) throw UsageError(cat("--batch must be >= 1, got ", batch));
  if (accumulate < 1) throw UsageError(cat("--accumulate must be >= 1, got ", accumulate));
  if (!(schedule.base > 0.0)) throw UsageError(cat("--lr must be > 0, got ", schedule.base));
  if (schedule.warmup < 0) throw UsageError(cat("--warmup must be >= 0, got ", schedule.warmup));
  if (!(schedule.min_ratio >= 0.0 && schedule.min_ratio <= 1.0))
    throw UsageError(cat("--min-lr-ratio must be in [0, 1], got ", schedule.min_ratio));
  if (!(adam.weight_decay >= 0.0))
    throw UsageError(cat("--weight-decay must be >= 0, got ", adam.weight_decay));
  if (!(adam.beta1 >= 0.0 && adam.beta1 < 1.0))
    throw UsageError(cat("--beta1 must be in [0, 1), got ", adam.beta1));
  if (!(adam.beta2 >= 0.0 && adam.beta2 < 1.0))
    throw UsageError(cat("--beta2 must be in [0, 1), got ", adam.beta2));
  if (!(adam.eps > 0.0)) throw UsageError(cat("--eps must be > 0, got ", adam.eps));
  if (!(clip >= 0.0)) throw UsageError(cat("--clip must be >= 0 (0: no clipping), got ", clip));
}

std::string TrainOptions::to_json() const {
  const json j = {{"steps", steps},
                  {"batch", batch},
                  {"accumulate", accumulate},
                  {"lr", schedule.base},
                  {"warmup", schedule.warmup},
                  {"decay", decay_name(schedule.decay)},
                  {"min_lr_ratio", schedule.min_ratio},
                  {"beta1", adam.beta1},
                  {"beta2", adam.beta2},
                  {"eps", adam.eps},
                  {"weight_decay", adam.weight_decay},
                  {"clip", clip},
                  {"seed", seed},
                  {"shuffle", shuffle}};
  return j.dump();
}

TrainOptions TrainOptions::from_json(const std::string& text, const std::string& source) {
  TrainOptions o;
  try {
    const json j = json::parse(text);
    o.steps = j.at("steps").get<std::int64_t>();
    o.batch = j.at("batch").get<std::int64_t>();
    o.accumulate = j.at("accumulate").get<std::int64_t>();
    o.schedule.base = j.at("lr").get<double>();
    o.schedule.warmup = j.at("warmup").get<std::int64_t>();
    o.schedule.decay = parse_decay(j.at("decay").get<std::string>());
    o.schedule.min_ratio = j.at("min_lr_ratio").get<double>();
    o.schedule.total = o.steps;
    o.adam.beta1 = j.at("beta1").get<double>();
    o.adam.beta2 = j.at("beta2").get<double>();
    o.adam.eps = j.at("eps").get<double>();
    o.adam.weight_decay = j.at("weight_decay").get<double>();
    o.clip = j.at("clip").get<double>();
    o.seed = j.at("seed").get<std::uint64_t>();
    o.shuffle = j.at("shuffle").get<bool>();
  } catch (const json::exception& e) {
    throw Error(cat(source, ": the training settings are unreadable: ", e.what()));
  } catch (const UsageError& e) {
    throw Error(cat(source, ": ", e.what()));
  }
  return o;
}

std::string options_difference(const TrainOptions& a, const TrainOptions& b) {
  auto diff = [](const char* name, auto x, auto y) -> std::string {
    return x == y ? std::string() : cat(name, " ", x, " vs ", y);
  };
  for (const std::string& d :
       {diff("batch", a.batch, b.batch), diff("accumulate", a.accumulate, b.accumulate),
        diff("lr", a.schedule.base, b.schedule.base), diff("warmup", a.schedule.warmup, b.schedule.warmup),
        diff("decay", std::string(decay_name(a.schedule.decay)), std::string(decay_name(b.schedule.decay))),
        diff("min-lr-ratio", a.schedule.min_ratio, b.schedule.min_ratio),
        diff("weight-decay", a.adam.weight_decay, b.adam.weight_decay),
        diff("beta1", a.adam.beta1, b.adam.beta1), diff("beta2", a.adam.beta2, b.adam.beta2),
        diff("eps", a.adam.eps, b.adam.eps), diff("clip", a.clip, b.clip), diff("seed", a.seed, b.seed),
        diff("shuffle", a.shuffle, b.shuffle)})
    if (!d.empty()) return d;
  return {};
}

Trainer::Trainer(const ModelConfig& c, const TrainOptions& o, const Split& train, ModelParams weights)
    : c_(c),
      o_(o),
      train_(train),
      p_(std::move(weights)),
      g_(c),
      opt_(c, o.adam),
      order_(train.count(), o.seed, o.shuffle) {
  DIFFUSER_CHECK(train.has_labels, "the training split '", train.name, "' has no labels");
}

void Trainer::restore(std::int64_t step) {
  step_ = step;
  opt_.set_t(step);
}

StepStats Trainer::compute_gradients() {
  StepStats s;
  s.step = step_ + 1;
  attention::zero(g_, c_);
  double loss_sum = 0.0;
  for (std::int64_t m = 0; m < o_.accumulate; ++m) {
    const std::int64_t at = cursor() + m * o_.batch;
    const Batch b = make_batch(train_, order_.take(at, o_.batch));
    const ModelGraphs& graphs = graphs_.get(c_, b.lengths);
    const attention::RunMode mode{true, rng::bits(o_.seed, kDropoutStream, static_cast<std::uint64_t>(at)),
                                  0};
    ModelCache cache;
    const Matrix<float> logits = attention::model_forward(c_, p_, graphs, b.ids, mode, &cache);
    Matrix<float> dlogits(logits.rows(), logits.cols());
    const double loss = attention::cross_entropy(logits.view(), b.labels, dlogits.view());
    if (o_.accumulate > 1)  // the gradient of the mean over all micro-batches
      for (float& v : dlogits.buffer()) v /= static_cast<float>(o_.accumulate);
    attention::model_backward(c_, p_, graphs, cache, dlogits.view(), g_, mode);
    loss_sum += loss;
    s.tokens += b.tokens();
    s.sequences += static_cast<std::int64_t>(b.lengths.size());
  }
  s.loss = loss_sum / static_cast<double>(o_.accumulate);
  DIFFUSER_CHECK(std::isfinite(s.loss), "step ", s.step, ": the loss is not finite (", s.loss,
                 "); a lower --lr or --clip may help");
  s.lr = o_.schedule.at(s.step);
  return s;
}

void Trainer::apply(StepStats& s) {
  s.grad_norm = clip_global_norm(g_, c_, o_.clip);
  DIFFUSER_CHECK(std::isfinite(s.grad_norm), "step ", s.step, ": the gradient norm is not finite (",
                 s.grad_norm, "); a lower --lr may help");
  opt_.step(p_, g_, s.lr);
  ++step_;
}

std::optional<EvalResult> evaluate(const ModelConfig& c, const ModelParams& p, const Split& s,
                                   std::int64_t batch, std::int64_t limit, bool keep_logits,
                                   const std::function<bool()>& stop) {
  DIFFUSER_CHECK(batch >= 1, "evaluate: batch must be >= 1");
  const std::int64_t count = limit > 0 ? std::min(limit, s.count()) : s.count();
  EvalResult r;
  r.has_labels = s.has_labels;
  GraphCache cache;
  double loss_sum = 0.0;
  for (std::int64_t first = 0; first < count; first += batch) {
    if (stop && stop()) return std::nullopt;
    std::vector<std::int64_t> samples;
    for (std::int64_t i = first; i < std::min(count, first + batch); ++i) samples.push_back(i);
    const Batch b = make_batch(s, samples);
    const Matrix<float> logits = attention::model_forward(c, p, cache.get(c, b.lengths), b.ids, {}, nullptr);
    const auto rows = static_cast<std::int64_t>(samples.size());
    if (s.has_labels)
      loss_sum += attention::cross_entropy(logits.view(), b.labels) * static_cast<double>(rows);
    for (std::int64_t i = 0; i < rows; ++i) {
      const float* z = logits.view().row(i);
      std::int32_t best = 0;
      for (std::int64_t k = 1; k < logits.cols(); ++k)
        if (z[k] > z[best]) best = static_cast<std::int32_t>(k);
      r.predictions.push_back(best);
      if (s.has_labels && best == b.labels[static_cast<std::size_t>(i)]) ++r.correct;
      if (keep_logits) r.logits.insert(r.logits.end(), z, z + logits.cols());
    }
    r.count += rows;
  }
  r.loss = r.count ? loss_sum / static_cast<double>(r.count) : 0.0;
  return r;
}

void check_config_for_data(const ModelConfig& c, const std::string& config_source, const DatasetMeta& meta,
                           std::int64_t max_length, const std::string& data_source) {
  const std::string meta_file = data_source + "/meta.json";
  if (c.num_labels != meta.num_classes)
    throw Error(cat(config_source, ": \"num_labels\" is ", c.num_labels, " but ", meta_file,
                    " has num_classes ", meta.num_classes));
  if (c.vocab_size < meta.vocab_size)
    throw Error(cat(config_source, ": \"vocab_size\" is ", c.vocab_size, " but ", meta_file,
                    " has vocab_size ", meta.vocab_size));
  if (meta.pad_id >= 0 && meta.pad_id != c.pad_token_id)
    throw Error(cat(config_source, ": \"pad_token_id\" is ", c.pad_token_id, " but ", meta_file,
                    " has pad_id ", meta.pad_id));
  const std::int64_t need = c.pad_token_id + 1 + max_length;
  if (c.max_position_embeddings < need)
    throw Error(cat(config_source, ": \"max_position_embeddings\" is ", c.max_position_embeddings, " but ",
                    data_source, " has sequences of ", max_length,
                    " tokens (needs at least pad_token_id + 1 + ", max_length, " = ", need, ")"));
}

}  // namespace diffuser::training
