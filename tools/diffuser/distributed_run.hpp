// The CLI side of `--distributed heads|tokens` (docs/DISTRIBUTED.md): an MPI job in which every rank
// runs the same command. Errors are agreed between ranks so that all of them end with the same
// one-line message and exit status; an error only some ranks see in the middle of collective work
// ends the whole job through MPI_Abort instead of hanging it. Rank 0 does the .npy I/O: it scatters
// the rows of the inputs and gathers the rows of the outputs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <diffuser/diffusion/distributed.hpp>
#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/communicator.hpp>

#include "cli.hpp"

namespace diffuser::cli {

enum class DistributedMode { heads, tokens };

// "heads" or "tokens"; UsageError otherwise.
DistributedMode parse_distributed_mode(const std::string& text);
const char* distributed_mode_name(DistributedMode mode);

// Starts MPI, checks that every rank got the same arguments, runs body(comm) and ends MPI.
// Agreed errors are printed by every rank (one line, as main prints errors) before any rank
// leaves, and give exit status 1 (2 for usage); any other error is printed with its rank and ends
// the job (MPI_Abort).
int run_distributed(Args& args, const std::function<int(Communicator&)>& body);

// Runs f on this rank, then agrees: every rank throws the first failing rank's error.
void agreed(Communicator& comm, const std::function<void()>& f);

// Rank 0's whole (N, row_floats) array -> each rank's rows (tokens) of it.
Buffer<float> scatter_rows(Communicator& comm, const diffusion::distributed::Split& tokens, const float* whole,
                           std::int64_t row_floats);
// Each rank's rows -> the whole array on rank 0 (empty on the others).
Buffer<float> gather_rows(Communicator& comm, const diffusion::distributed::Split& tokens, const float* own,
                          std::int64_t row_floats);

// Prints (rank 0) one line per rank of the given stats: times, compute vs communication, bytes.
void print_rank_stats(Communicator& comm, const diffusion::distributed::Stats& mine, const std::string& label);

}  // namespace diffuser::cli
