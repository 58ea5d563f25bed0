// `diffuser attend --distributed heads|tokens` (attend_distributed.cpp).
#pragma once

#include <string>

#include "cli.hpp"

namespace diffuser::cli {

// Runs attend as one rank of an MPI job; `mode` is the value of --distributed (already consumed).
int run_attend_distributed(Args& args, const std::string& mode);

}  // namespace diffuser::cli
