// Training of the encoder stack for sequence classification: each optimizer step runs
// `accumulate` micro-batches of `batch` sequences (block-diagonal, no padding), averages their
// cross-entropy gradients, clips them by the global norm and applies AdamW with the step's
// learning rate. Everything a step does is a function of (weights, moments, step, seed), so a
// run restored from a checkpoint continues bit for bit (for the same thread count).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <diffuser/attention/config.hpp>
#include <diffuser/attention/model.hpp>
#include <diffuser/training/batches.hpp>
#include <diffuser/training/dataset.hpp>
#include <diffuser/training/optimizer.hpp>
#include <diffuser/training/schedule.hpp>

namespace diffuser::training {

struct TrainOptions {
  std::int64_t steps = 0;       // the last step (schedule.total)
  std::int64_t batch = 8;       // sequences per micro-batch
  std::int64_t accumulate = 1;  // micro-batches per optimizer step
  LrSchedule schedule;
  AdamWOptions adam;
  double clip = 1.0;  // global gradient norm; <= 0: no clipping
  std::uint64_t seed = 0;
  bool shuffle = true;

  std::int64_t sequences_per_step() const { return batch * accumulate; }
  void validate() const;  // UsageError naming the option
  std::string to_json() const;
  static TrainOptions from_json(const std::string& text, const std::string& source);
};
// "" when a and b train the same way (every setting but the number of steps), else the first
// difference, e.g. "lr 0.001 vs 0.0005".
std::string options_difference(const TrainOptions& a, const TrainOptions& b);

struct StepStats {
  std::int64_t step = 0;  // 1-based, the step just computed
  double loss = 0.0;      // mean cross-entropy over the step's sequences
  double lr = 0.0;
  double grad_norm = 0.0;  // global norm before clipping
  std::int64_t tokens = 0, sequences = 0;
};

class Trainer {
 public:
  // Step 0: the given weights, zero moments.
  Trainer(const attention::ModelConfig& c, const TrainOptions& o, const Split& train,
          attention::ModelParams weights);

  // The next step's forward and backward passes: gradients() holds the gradient of the mean loss
  // (unclipped). Throws Error when the loss is not finite.
  StepStats compute_gradients();
  // Clips, applies AdamW, advances the step.
  void apply(StepStats& s);
  StepStats step() {
    StepStats s = compute_gradients();
    apply(s);
    return s;
  }

  std::int64_t step_count() const { return step_; }
  std::int64_t cursor() const { return step_ * o_.sequences_per_step(); }  // samples consumed
  // After loading weights and moments from a checkpoint of step `step`.
  void restore(std::int64_t step);

  const attention::ModelConfig& config() const { return c_; }
  const TrainOptions& options() const { return o_; }
  attention::ModelParams& params() { return p_; }
  attention::ModelParams& gradients() { return g_; }
  AdamW& optimizer() { return opt_; }

 private:
  attention::ModelConfig c_;
  TrainOptions o_;
  const Split& train_;
  attention::ModelParams p_, g_;
  AdamW opt_;
  SampleOrder order_;
  GraphCache graphs_;
  std::int64_t step_ = 0;
};

struct EvalResult {
  std::int64_t count = 0, correct = 0;
  double loss = 0.0;  // mean cross-entropy (labelled splits)
  bool has_labels = false;
  std::vector<std::int32_t> predictions;  // argmax class per sequence
  std::vector<float> logits;              // (count, classes) when asked for
  double accuracy() const { return count ? static_cast<double>(correct) / static_cast<double>(count) : 0.0; }
};

// Inference (no dropout) over sequences [0, limit) of a split (limit <= 0: all), `batch` at a
// time. `stop`, when given, is polled between batches; a true answer abandons the pass (nullopt).
std::optional<EvalResult> evaluate(const attention::ModelConfig& c, const attention::ModelParams& p,
                                   const Split& s, std::int64_t batch, std::int64_t limit = 0,
                                   bool keep_logits = false, const std::function<bool()>& stop = {});

// Checks that a model config can run a data set: num_labels = num_classes, vocab_size covers the
// data's vocabulary, max_position_embeddings covers its longest sequence, pad_token_id = pad_id.
// Throws Error naming the config file, the key and meta.json.
void check_config_for_data(const attention::ModelConfig& c, const std::string& config_source,
                           const DatasetMeta& meta, std::int64_t max_length, const std::string& data_source);

}  // namespace diffuser::training
