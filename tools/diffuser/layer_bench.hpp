// `diffuser layer --bench`: times one encoder layer (forward, and forward + backward) on random
// input, with the split between dense products and graph passes.
#pragma once

#include <filesystem>

#include <diffuser/attention/config.hpp>

#include "cli.hpp"

namespace diffuser::cli {

OptionGroup layer_bench_option_group();
int run_layer_bench(Args& args, const attention::ModelConfig& c, const std::filesystem::path& config_path);

// --head-groups G for `diffuser layer` (bench and files): 0 or absent = automatic, else a divisor of
// the config's head count (UsageError otherwise). Read before Args::finish.
int head_groups_option(Args& args, const attention::ModelConfig& c);

}  // namespace diffuser::cli
