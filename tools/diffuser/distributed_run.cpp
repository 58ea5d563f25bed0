#include "distributed_run.hpp"

#include <cstdio>
#include <functional>
#include <memory>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>

#include "tool_util.hpp"

namespace diffuser::cli {

namespace dist = diffusion::distributed;

DistributedMode parse_distributed_mode(const std::string& text) {
  if (text == "heads") return DistributedMode::heads;
  if (text == "tokens") return DistributedMode::tokens;
  throw UsageError(cat("--distributed must be heads or tokens, got '", text, "'"));
}

const char* distributed_mode_name(DistributedMode mode) {
  return mode == DistributedMode::heads ? "heads" : "tokens";
}

namespace {

std::int64_t hash_tokens(const std::vector<std::string>& tokens) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a over the tokens and their separators
  for (const std::string& t : tokens) {
    for (unsigned char ch : t) h = (h ^ ch) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull;
  }
  return static_cast<std::int64_t>(h >> 1);
}

}  // namespace

int run_distributed(Args& args, const std::function<int(Communicator&)>& body) {
  if (!mpi_built())
    throw UsageError("--distributed needs a build with MPI (configure with -DDIFFUSER_MPI=ON; Debian: libopenmpi-dev)");
  MpiSession mpi(nullptr, nullptr);
  std::unique_ptr<Communicator> comm;
  int rank = 0;
  try {
    comm = mpi_world_communicator();
    rank = comm->rank();
    require_same_on_all_ranks(*comm, hash_tokens(args.tokens()), "arguments");
    return body(*comm);
  } catch (const AgreedError& e) {
    // Every rank prints its line before any of them exits: mpirun stops the others as soon as one
    // process ends with a non-zero status.
    std::fprintf(stderr, "diffuser %s: error: %s\n", args.command().c_str(), one_line(e.what()).c_str());
    std::fflush(stderr);
    comm->barrier();
    return e.usage() ? 2 : 1;
  } catch (const std::exception& e) {
    // Seen by this rank only, perhaps while others wait in a collective: end the whole job.
    std::fprintf(stderr, "diffuser %s: error: rank %d: %s (ending every rank)\n", args.command().c_str(), rank,
                 one_line(e.what()).c_str());
    std::fflush(stderr);
    MpiSession::abort_job(dynamic_cast<const UsageError*>(&e) ? 2 : 1);
  }
}

void agreed(Communicator& comm, const std::function<void()>& f) {
  std::string error;
  bool usage = false;
  try {
    f();
  } catch (const AgreedError&) {
    throw;
  } catch (const UsageError& e) {
    error = one_line(e.what());
    usage = true;
  } catch (const std::bad_alloc&) {
    error = "out of memory";
  } catch (const std::exception& e) {
    error = one_line(e.what());
  }
  agree_or_throw(comm, error, usage);
}

Buffer<float> scatter_rows(Communicator& comm, const dist::Split& tokens, const float* whole, std::int64_t row_floats) {
  const int me = comm.rank();
  Buffer<float> own(tokens.size(me) * row_floats);
  std::vector<SendMessage> sends;
  std::vector<RecvMessage> recvs;
  if (me == 0)
    for (int p = 0; p < comm.size(); ++p)
      if (tokens.size(p) > 0)
        sends.push_back({p, whole + tokens.begin(p) * row_floats,
                         tokens.size(p) * row_floats * std::int64_t{sizeof(float)}});
  if (own.size() > 0) recvs.push_back({0, own.data(), own.size() * std::int64_t{sizeof(float)}});
  comm.exchange(sends, recvs);
  return own;
}

Buffer<float> gather_rows(Communicator& comm, const dist::Split& tokens, const float* own, std::int64_t row_floats) {
  const int me = comm.rank();
  Buffer<float> whole(me == 0 ? tokens.count() * row_floats : 0);
  std::vector<SendMessage> sends;
  std::vector<RecvMessage> recvs;
  if (tokens.size(me) > 0) sends.push_back({0, own, tokens.size(me) * row_floats * std::int64_t{sizeof(float)}});
  if (me == 0)
    for (int p = 0; p < comm.size(); ++p)
      if (tokens.size(p) > 0)
        recvs.push_back({p, whole.data() + tokens.begin(p) * row_floats,
                         tokens.size(p) * row_floats * std::int64_t{sizeof(float)}});
  comm.exchange(sends, recvs);
  return whole;
}

void print_rank_stats(Communicator& comm, const dist::Stats& mine, const std::string& label) {
  constexpr int kFields = 6;
  const int P = comm.size();
  std::vector<double> all(static_cast<std::size_t>(P * kFields), 0.0);
  double* row = all.data() + comm.rank() * kFields;
  row[0] = mine.total_ms;
  row[1] = mine.comm_ms;
  row[2] = static_cast<double>(mine.bytes_sent);
  row[3] = static_cast<double>(mine.bytes_received);
  row[4] = static_cast<double>(mine.hop_bytes_sent);
  row[5] = static_cast<double>(mine.hop_bytes_received);
  comm.all_reduce_sum(all);
  if (comm.rank() != 0) return;
  for (int p = 0; p < P; ++p) {
    const double* r = all.data() + p * kFields;
    std::printf("  rank %d %s: %9.2f ms = compute %9.2f + communication %8.2f; sent %s, received %s", p,
                label.c_str(), r[0], r[0] - r[1], r[1], format_bytes(static_cast<std::int64_t>(r[2])).c_str(),
                format_bytes(static_cast<std::int64_t>(r[3])).c_str());
    if (r[4] > 0 || r[5] > 0)
      std::printf("; per hop sent %s, received %s", format_bytes(static_cast<std::int64_t>(r[4])).c_str(),
                  format_bytes(static_cast<std::int64_t>(r[5])).c_str());
    std::printf("\n");
  }
}

}  // namespace diffuser::cli
