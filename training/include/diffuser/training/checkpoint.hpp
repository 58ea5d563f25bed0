// Training checkpoints: one safetensors file (float32) holding the weights under their RoBERTa
// names (so `diffuser predict` and `diffuser layer` read it as a weights file), both AdamW moments
// under optimizer.exp_avg.NAME and optimizer.exp_avg_sq.NAME, and in its metadata the step, the
// data cursor and seed (the whole random state: every draw is counter-based), the model config,
// the training settings, the training data's fingerprint and a checksum of every tensor value.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include <diffuser/attention/config.hpp>
#include <diffuser/attention/model.hpp>
#include <diffuser/training/optimizer.hpp>

namespace diffuser::training {

struct CheckpointState {
  std::int64_t step = 0;
  std::int64_t cursor = 0;  // training samples consumed
  std::uint64_t seed = 0;
  std::string config_json;   // ModelConfig::to_json()
  std::string options_json;  // TrainOptions::to_json()
  std::uint64_t data_fingerprint = 0;
};

// "checkpoint-STEP.safetensors"
std::string checkpoint_name(std::int64_t step);

// Written atomically (temporary file + rename).
void save_checkpoint(const std::filesystem::path& path, const attention::ModelConfig& c,
                     attention::ModelParams& p, AdamW& opt, const CheckpointState& s);
// The metadata alone; Error naming the file when it is not a readable diffuser checkpoint.
CheckpointState read_checkpoint_state(const std::filesystem::path& path);
// Weights and moments into p and opt (shapes from c), then the checksum: Error naming the file
// when a tensor is missing or has another shape, or the values do not match the checksum.
void load_checkpoint(const std::filesystem::path& path, const attention::ModelConfig& c,
                     attention::ModelParams& p, AdamW& opt);

// "" when a and b describe the same model, else the first key that differs: "hidden_size: 64 vs 32".
std::string config_difference(const attention::ModelConfig& a, const attention::ModelConfig& b);

}  // namespace diffuser::training
