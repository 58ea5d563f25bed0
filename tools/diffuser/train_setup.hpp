// The settings and the run folder of `diffuser train`: the training flags (and which were given,
// for a resumed run), the settings a resumed run keeps, the checkpoints a folder holds.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <diffuser/attention/config.hpp>
#include <diffuser/training/trainer.hpp>

#include "cli.hpp"

namespace diffuser::cli {

// Checkpoint files in a folder, by step.
std::vector<std::pair<std::int64_t, std::filesystem::path>> checkpoints_in(const std::filesystem::path& dir);
// Whether a folder holds a training run (log.csv, final weights or checkpoints).
bool holds_run(const std::filesystem::path& dir);
// "K = 5 PPR alpha = 0.1", "K = 0 (plain attention)", ...
std::string describe_diffusion(const attention::ModelConfig& c);

struct TrainFlags {
  std::set<std::string> given;  // the flags present on the command line
  training::TrainOptions o;     // their values, defaults elsewhere
};
// The training settings from the flags; UsageError for a missing --steps or a bad value.
TrainFlags read_train_flags(Args& args);
// A resumed run keeps the checkpoint's settings (`saved`): a flag left out takes the saved value, a
// flag given with another value is a UsageError naming both; --steps comes from the flags.
training::TrainOptions merge_resumed(const TrainFlags& f, const training::TrainOptions& saved,
                                     const std::filesystem::path& ckpt);

}  // namespace diffuser::cli
