// The options every graph-consuming subcommand shares: --pattern SPEC --n N [--seed S], or
// --graph FILE [--n N]. One place parses them so that all commands accept the same spellings.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <diffuser/engine/csr.hpp>

#include "cli.hpp"

namespace diffuser::cli {

struct GraphSource {
  Csr graph;
  std::string description;  // "pattern 'diffuser' (N=4096, seed 0)" or "file g.mtx"
  double build_ms = 0;
};

// Reads the options above; throws UsageError when neither or both sources are given, N <= 0, ...
GraphSource graph_from_args(Args& args);

// The files those options read, as (option, path) pairs: --graph FILE, and the file: terms of a
// --pattern (for check_outputs_not_inputs). Consumes nothing.
std::vector<std::pair<std::string, std::filesystem::path>> graph_inputs(const Args& args);

// Those options in a command's table.
OptionGroup graph_option_group();

}  // namespace diffuser::cli
