// `diffuser reach`: multi-hop reachability of a token graph (coverage per hop, receptive fields,
// diameter), exact with bit-parallel frontiers up to N = 16,384, sampled with an error bound beyond.
#include <cstdio>
#include <string>

#include <diffuser/diffusion/reach.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/engine/error.hpp>

#include "analysis_json.hpp"
#include "analysis_util.hpp"
#include "cli.hpp"
#include "command_context.hpp"
#include "graph_source.hpp"
#include "json_out.hpp"
#include "progress.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

namespace {

using diffusion::ReachResult;

void print_table(const std::string& source, const ReachResult& r, Device dev, int threads) {
  std::printf("graph:    %s: %s tokens, %s edges\n", source.c_str(), group_digits(r.nodes).c_str(),
              group_digits(r.edges).c_str());
  if (r.exact) {
    std::printf("mode:     exact, all %s ordered pairs (i != j)\n",
                group_digits(r.nodes * (r.nodes - 1)).c_str());
  } else {
    std::printf("mode:     sampled, %s tokens; coverage +/- %.4f, field mean +/- %s at %.0f%% confidence\n",
                group_digits(r.sample_sources).c_str(), r.coverage_half_width,
                fmt_num(r.field_mean_half_width, 4).c_str(), 100 * r.confidence);
  }
  std::printf("\n  hops   coverage    receptive field (tokens, itself included)\n");
  std::printf("                          min         mean          max\n");
  for (int k = 1; k <= r.max_hops; ++k) {
    const auto& f = r.receptive_field[static_cast<std::size_t>(k - 1)];
    std::printf("  %4d  %9s  %11s  %11s  %11s\n", k,
                fmt_pct(r.coverage[static_cast<std::size_t>(k - 1)], 2).c_str(), group_digits(f.min).c_str(),
                fmt_num(f.mean, 6).c_str(), group_digits(f.max).c_str());
  }
  std::printf("\n");
  const char* bound = r.exact ? "" : " (sampled tokens: a lower bound)";
  if (r.full_coverage_hops)
    std::printf("full coverage:     at %d hop%s%s\n", *r.full_coverage_hops,
                *r.full_coverage_hops == 1 ? "" : "s", bound);
  else
    std::printf("full coverage:     never (some pairs are unreachable)\n");
  std::printf("diameter:          %d%s\n", r.diameter, bound);
  std::printf("unreachable pairs: %s%s (%s)\n", r.exact ? "" : "about ",
              group_digits(r.unreachable_pairs).c_str(), fmt_pct(r.unreachable_fraction, 2).c_str());
  if (dev == Device::cpu)
    std::printf("time:              %.3f s (%d thread%s)\n", r.seconds, threads, threads == 1 ? "" : "s");
  else
    std::printf("time:              %.3f s (%s)\n", r.seconds, describe_device(dev).c_str());
}

int run_reach_body(Args& args) {
  const auto max_hops = args.get_int("max-hops");
  const auto sample = args.get_int("sample");
  const bool exact = args.flag("exact");
  const double confidence = args.get_double("confidence", 0.95);
  const int threads = threads_option(args);
  const Device dev = backend_option(args).value_or(Device::cpu);
  const bool json = args.flag("json");
  const bool quiet = args.flag("quiet");
  Args probe = args;
  const auto seed = probe.get_int("seed", 0);
  finish_except_graph_options(args);
  if (sample && exact) throw UsageError("--sample and --exact exclude each other");

  if (dev == Device::cuda && sample)
    throw UsageError("--sample runs on the CPU only: drop it (cuda is exact), or use --backend cpu");
  require_device(dev);  // before the graph is built: no GPU is a one-line error, exit 1

  cli::CommandContext command_context(threads);
  GraphSource src = graph_from_args(args);
  args.finish();
  require_tokens(src.graph, src.description, 2, "reachability");

  Progress progress("reach", progress_style(quiet));
  diffusion::ReachOptions opt;
  opt.max_hops = static_cast<int>(max_hops.value_or(8));
  opt.sample = exact ? 0 : sample.value_or(-1);
  opt.seed = static_cast<std::uint64_t>(seed < 0 ? 0 : seed);
  opt.confidence = confidence;
  opt.device = dev;
  progress.stage("hops", opt.max_hops);
  bool saturating = false;
  opt.progress = [&](const diffusion::ReachProgress& p) {
    const std::string batch =
        p.batches > 1 ? cat("batch ", p.batch + 1, "/", p.batches, ", ") : std::string();
    if (p.saturating) {
      if (!saturating) progress.stage("diameter", static_cast<double>(p.blocks));
      saturating = true;
      progress.update(static_cast<double>(p.blocks_done), cat(batch, "past hop ", p.hop, ", ", p.blocks_done,
                                                              "/", p.blocks, " source blocks done"));
    } else {
      progress.update(static_cast<double>(p.batch * opt.max_hops + p.hop) / static_cast<double>(p.batches),
                      cat(batch, "hop ", p.hop, "/", opt.max_hops, ", coverage ", fmt_pct(p.coverage, 2)));
    }
  };
  const ReachResult r = diffusion::reach(src.graph, opt);
  progress.finish();
  const int used = current_context().cpu_threads();
  if (json)
    std::printf("%s\n", dump_json(reach_json(src.description, r, dev, used)).c_str());
  else
    print_table(src.description, r, dev, used);
  return 0;
}

int run_reach(Args& args) {
  return with_one_line_errors(args, &run_reach_body);
}

const Registrar reg({
    .name = "reach",
    .summary = "multi-hop reachability: coverage per hop, receptive fields, diameter",
    .usage = {"(--pattern SPEC --n N [--seed S] | --graph FILE [--n N])",
              "[--max-hops K] [--sample S | --exact] [--confidence C] [--threads T]",
              "[--backend cpu|cuda] [--json] [--quiet]"},
    .about = "How far information travels in k hops. Information flows along edges j -> i (token i attends\n"
             "to j), so token i receives from j within k hops when a path j -> ... -> i of at most k edges\n"
             "exists. For k = 1..K it reports\n"
             "  coverage(k)        the fraction of ordered pairs (i, j), i != j, with i receiving from j\n"
             "                     within k hops;\n"
             "  receptive field    min / mean / max over tokens i of |R_k(i)|, the number of tokens i\n"
             "                     receives from within k hops, counting i itself (so 1..N);\n"
             "and, whatever K is (the search runs on until nothing new is reached), the diameter (the\n"
             "largest finite shortest-path length), the smallest k with coverage 1 and the unreachable pairs.\n",
    .options = {
        graph_option_group(),
        {"options",
         {
          {.label = "--max-hops K",
           .help = "hops listed, 1..1024 (default 8)", .type = Option::Type::integer, .min = 1, .max = diffusion::kMaxReachHops},
          {.label = "--exact",
           .help = "exact at any N (default: exact for N <= 16,384)"},
          {.label = "--sample S",
           .help = "estimate from S distinct tokens i drawn with --seed (default beyond N = 16,384: 4,096); their receptive fields are exact, and coverage (a mean over tokens of a [0, 1] quantity) comes with a half-width at --confidence from Hoeffding's inequality with Serfling's finite-population factor: sqrt((1 - (S-1)/N) ln(2/(1-C)) / (2S)). The receptive-field mean's half-width is (N - 1) times that; min, max, diameter and full-coverage hops are those of the sampled tokens (bounds on the true values).", .type = Option::Type::integer, .min = 1},
          {.label = "--confidence C",
           .help = "of the stated bound, in (0, 1) (default 0.95)", .type = Option::Type::number, .min = 0, .max = 1, .open_min = true, .open_max = true},
          {.label = "--threads T",
           .help = "worker threads (default: all)", .type = Option::Type::integer, .min = 1, .max = 4096},
          {.label = "--backend cpu|cuda",
           .help = "where the exact computation runs (default cpu); cuda needs a CUDA build and a GPU, gives the same numbers, and is exact only (sampled mode runs on the CPU: beyond N = 16,384 pass --exact with cuda)"},
          {.label = "--json",
           .help = "one JSON object on stdout instead of the table"},
          {.label = "--quiet",
           .help = "no progress on stderr (after 2 s: a bar on a terminal, else a line now and then)"},
         }},
    },
    .notes = "method: 256 sources per block, one bit each (4 machine words per token); one hop ORs the\n"
             "words of a token's sources into its own (pull over CSR rows) or, on thin frontiers, pushes\n"
             "the new bits along the reverse edges; TBB runs the blocks in parallel. With --backend cuda,\n"
             "every source of a chunk (all N when the three N x N-bit sets fit in 2 GiB) advances at once:\n"
             "one GPU thread per (token, 64-bit word) ORs its sources' words, one warp per token counts the\n"
             "new bits, and the counts come back to the host after each hop.\n"
             "\n"
             "JSON keys: source, nodes, edges, max_hops, exact, sample_sources, confidence,\n"
             "coverage_half_width, receptive_field_mean_half_width, coverage [K], receptive_field\n"
             "[{hops, min, mean, max}] (counts include the token itself), pairs_at_distance [d = 1..diameter],\n"
             "full_coverage_hops, diameter, diameter_is_lower_bound, unreachable_pairs, unreachable_fraction,\n"
             "backend, threads, seconds.\n"
             "\n"
             "examples:\n"
             "  diffuser reach --pattern diffuser --n 16384 --max-hops 8\n"
             "  diffuser reach --pattern window:64 --n 65536 --sample 2048 --json\n"
             "  diffuser reach --graph g.mtx --max-hops 4 --exact\n"
             "  diffuser reach --pattern diffuser --n 65536 --exact --backend cuda\n"
             "\n"
             "exit status: 0 success, 1 bad data (file, too few tokens, memory, no GPU for cuda), 2 bad usage.\n",
    .docs = "[ANALYSIS.md](ANALYSIS.md)",
    .run = &run_reach,
    .order = 50,
});

}  // namespace

}  // namespace diffuser::cli
