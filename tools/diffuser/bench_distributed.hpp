// `diffuser bench --distributed heads|tokens` (bench_distributed.cpp).
#pragma once

#include <string>

#include "cli.hpp"

namespace diffuser::cli {

// Times the distributed forward as one rank of an MPI job; `mode` is the value of --distributed.
int run_bench_distributed(Args& args, const std::string& mode);

}  // namespace diffuser::cli
