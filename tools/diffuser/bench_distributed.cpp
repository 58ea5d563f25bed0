// `diffuser bench --distributed heads|tokens` under mpirun: every rank builds the graph and draws
// its own rows of Q, K, V (the same values one process would draw: rng::normal by global index),
// then times the distributed forward. Rank 0 prints one line per rank: the median repetition's
// time split into compute and communication, and the bytes it sent and received. Tokens mode
// overlaps the halo exchanges with the interior rows unless --no-overlap.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <diffuser/diffusion/distributed.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/cpu_isa.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/engine/sys.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "bench_distributed.hpp"
#include "command_context.hpp"
#include "distributed_run.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

namespace {

namespace dist = diffusion::distributed;

struct Options {
  std::vector<std::int64_t> sizes;
  std::string pattern;
  std::int64_t H = 12, D = 64;
  int hops = 5, reps = 3, threads = 0;
  double alpha = 0.1;
  std::uint64_t seed = 0;
  dist::Overlap overlap = dist::Overlap::on;
};

Options parse(Args& args, DistributedMode mode) {
  Options o;
  const std::string sizes = args.get("sizes").value_or("16384");
  for (std::size_t at = 0; at <= sizes.size();) {
    const std::size_t comma = std::min(sizes.find(',', at), sizes.size());
    o.sizes.push_back(parse_int(sizes.substr(at, comma - at), "--sizes"));
    at = comma + 1;
  }
  o.pattern = args.get("pattern").value_or("diffuser");
  o.H = args.get_int("heads", 12);
  o.D = args.get_int("dim", 64);
  o.hops = static_cast<int>(args.get_int("hops", 5));
  o.alpha = args.get_double("alpha", 0.1);
  o.reps = static_cast<int>(args.get_int("reps", 3));
  o.seed = static_cast<std::uint64_t>(args.get_int("seed", 0));
  o.threads = threads_option(args);
  if (args.flag("no-overlap")) {
    if (mode != DistributedMode::tokens)
      throw UsageError("--no-overlap goes with --distributed tokens (heads has no halo)");
    o.overlap = dist::Overlap::off;
  }
  args.finish();
  if (o.H <= 0 || o.D <= 0) throw UsageError("--heads and --dim must be positive");
  if (o.reps < 1) throw UsageError("--reps must be at least 1");
  if (o.hops < 0 || o.hops > diffusion::kMaxHops) throw UsageError(cat("--hops must be in [0, ", diffusion::kMaxHops, "]"));
  for (std::int64_t n : o.sizes)
    if (n < 1) throw UsageError(cat("--sizes: ", n, " is not a token count"));
  return o;
}

// This rank's rows [first, first + rows) of a (N, H, D) normal tensor drawn by global index.
Buffer<float> own_rows(std::int64_t first, std::int64_t rows, std::int64_t row, std::uint64_t seed,
                       std::uint64_t stream) {
  Buffer<float> b(rows * row);
  for (std::int64_t i = 0; i < b.size(); ++i)
    b[i] = static_cast<float>(rng::normal(seed, stream, static_cast<std::uint64_t>(first * row + i)));
  return b;
}

int bench_on_ranks(Args& args, DistributedMode mode, Communicator& comm) {
  Options o;
  agreed(comm, [&] { o = parse(args, mode); });
  CommandContext command_context(o.threads);
  const int P = comm.size(), me = comm.rank();
  const bool root = me == 0;
  const auto coeffs = diffusion::Coefficients::ppr(o.hops, o.alpha);
  agreed(comm, [&] {
    if (mode == DistributedMode::heads && P > o.H)
      throw Error(cat("--distributed heads with ", P, " ranks needs at least ", P, " heads (--heads ", o.H,
                      "; or use --distributed tokens)"));
    for (std::int64_t n : o.sizes)
      if (P > n) throw Error(cat("mpirun started ", P, " ranks for ", n, " tokens: at most one rank per token"));
  });
  if (root) {
    std::printf("distributed bench: %s over %d ranks (%s), pattern %s, H = %lld, D = %lld, %s, %d reps (median shown)\n",
                distributed_mode_name(mode), P, comm.transport(), o.pattern.c_str(), static_cast<long long>(o.H),
                static_cast<long long>(o.D), coeffs.describe().c_str(), o.reps);
    std::printf("each rank: %d threads, CPU level %s; %s\n", current_context().cpu_threads(),
                cpu_isa_name(current_context().cpu_isa()), describe_device(Device::cpu).c_str());
    if (mode == DistributedMode::tokens)
      std::printf("halo exchange: %s\n", o.overlap == dist::Overlap::on
                                             ? "overlapped with the rows that need no halo (interior rows)"
                                             : "blocking, before each step (--no-overlap)");
  }
  for (const std::int64_t n : o.sizes) {
    std::optional<Csr> g;
    agreed(comm, [&] { g.emplace(graphs::build_pattern(o.pattern, n, o.seed)); });
    const dist::Split tokens = dist::Split::even(n, P);
    const std::int64_t row = o.H * o.D, own = tokens.size(me), first = tokens.begin(me);
    const Buffer<float> q = own_rows(first, own, row, o.seed, 1), k = own_rows(first, own, row, o.seed, 2),
                        v = own_rows(first, own, row, o.seed, 3);
    auto view = [&](const Buffer<float>& b) { return tensor3_view<const float>(b.data(), own, o.H, o.D); };
    std::optional<dist::HaloPlan> plan;
    double plan_ms = 0;
    if (mode == DistributedMode::tokens) {
      Stopwatch sw;
      plan.emplace(comm, tokens, *g);
      plan_ms = sw.ms();
    }
    std::vector<dist::Stats> runs;
    for (int r = 0; r <= o.reps; ++r) {  // the first run warms up (plans, pages) and is not counted
      comm.barrier();
      dist::Stats s;
      if (mode == DistributedMode::heads)
        dist::diffuse_heads(comm, *g, tokens, view(q), view(k), view(v), {}, coeffs, &s);
      else
        dist::diffuse_tokens(comm, *plan, view(q), view(k), view(v), {}, coeffs, &s, o.overlap);
      if (r > 0) runs.push_back(s);
    }
    std::sort(runs.begin(), runs.end(), [](const dist::Stats& a, const dist::Stats& b) { return a.total_ms < b.total_ms; });
    const dist::Stats median = runs[runs.size() / 2];
    // The job's time is its slowest rank's.
    std::vector<std::int64_t> slow{static_cast<std::int64_t>(median.total_ms * 1000.0)};
    comm.all_reduce_max(slow);
    std::vector<double> sums{static_cast<double>(plan ? plan->cut_edges() : 0),
                             static_cast<double>(plan ? plan->halo_rows() : 0),
                             static_cast<double>(plan ? plan->interior_rows() : 0)};
    comm.all_reduce_sum(sums);
    if (root) {
      std::printf("N = %s, E = %s: slowest rank %.2f ms per forward", group_digits(n).c_str(),
                  group_digits(g->num_edges()).c_str(), static_cast<double>(slow[0]) / 1000.0);
      if (plan)
        std::printf(
            "; graph cut %s edges, %s halo rows per hop (%s per hop over all ranks), %s interior rows "
            "(%.1f%%), halo plan %.1f ms",
            group_digits(static_cast<std::int64_t>(sums[0])).c_str(),
            group_digits(static_cast<std::int64_t>(sums[1])).c_str(),
            format_bytes(static_cast<std::int64_t>(sums[1]) * row * 4).c_str(),
            group_digits(static_cast<std::int64_t>(sums[2])).c_str(),
            100.0 * sums[2] / static_cast<double>(n), plan_ms);
      std::printf("\n");
    }
    print_rank_stats(comm, median, "forward");
  }
  return 0;
}

}  // namespace

int run_bench_distributed(Args& args, const std::string& mode_text) {
  const DistributedMode mode = parse_distributed_mode(mode_text);
  return run_distributed(args, [&](Communicator& comm) { return bench_on_ranks(args, mode, comm); });
}

}  // namespace diffuser::cli
