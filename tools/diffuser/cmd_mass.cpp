// `diffuser mass`: how much of each token's diffused attention comes from tokens it is not
// directly connected to, hop by hop, for uniform attention or softmax attention from Q/K files.
#include <cstdio>
#include <string>

#include <diffuser/diffusion/mass.hpp>
#include <diffuser/engine/context.hpp>
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

using diffusion::MassResult;

void print_table(const std::string& source, const MassResult& r, const std::string& coeffs, int threads) {
  std::printf("graph:       %s: %s tokens, %s edges\n", source.c_str(), group_digits(r.nodes).c_str(),
              group_digits(r.edges).c_str());
  std::printf("attention:   %s\n",
              r.uniform ? "uniform (1/deg)" : cat("softmax from Q/K, ", r.heads, " heads").c_str());
  std::printf("diffusion:   %s\n", coeffs.c_str());
  if (r.exact)
    std::printf("tokens:      all\n");
  else
    std::printf("tokens:      %s sampled; means +/- %.4f at %.0f%% confidence\n",
                group_digits(r.sample_sources).c_str(), r.half_width, 100 * r.confidence);
  std::printf("\n  hop k    theta_k   outside_k: mean      min      max   contribution\n");
  for (const auto& h : r.hops)
    std::printf("  %5d  %9.4f  %16s %8s %8s  %13s\n", h.k, h.theta, fmt_pct(h.mean, 2).c_str(),
                fmt_pct(h.min, 1).c_str(), fmt_pct(h.max, 1).c_str(), fmt_pct(h.contribution, 2).c_str());
  std::printf("\noutside mass:  %s of the diffused attention comes from tokens outside N1(i)\n",
              fmt_pct(r.outside_mass, 2).c_str());
  std::printf("               per token min %s, max %s; theta on hops >= 2: %s\n",
              fmt_pct(r.outside_min, 2).c_str(), fmt_pct(r.outside_max, 2).c_str(),
              fmt_pct(r.beyond_one_hop_theta, 2).c_str());
  if (r.heads > 1) {
    std::printf("               per head:");
    for (const double m : r.outside_mass_per_head) std::printf(" %s", fmt_pct(m, 2).c_str());
    std::printf("\n");
  }
  std::printf("time:          %.3f s (%d thread%s)\n", r.seconds, threads, threads == 1 ? "" : "s");
}

int run_mass_body(Args& args) {
  const QkPaths qk = qk_option(args);
  const diffusion::Coefficients coeffs = coefficients_option(args, 5);
  const auto sample = args.get_int("sample");
  const bool exact = args.flag("exact");
  const double confidence = args.get_double("confidence", 0.95);
  const int threads = threads_option(args);
  const bool json = args.flag("json");
  const bool quiet = args.flag("quiet");
  Args probe = args;
  const auto seed = probe.get_int("seed", 0);
  finish_except_graph_options(args);
  if (sample && exact) throw UsageError("--sample and --exact exclude each other");

  cli::CommandContext command_context(threads);
  GraphSource src = graph_from_args(args);
  args.finish();
  require_tokens(src.graph, src.description, 1, "diffusion mass");
  const Matrix<float> w = load_attention(src.graph, qk);
  diffusion::MassOptions opt;
  opt.sample = exact ? 0 : sample.value_or(-1);
  opt.seed = static_cast<std::uint64_t>(seed < 0 ? 0 : seed);
  opt.confidence = confidence;
  Progress progress("mass", progress_style(quiet));
  progress.stage("blocks of 64 tokens");
  opt.progress = [&](std::int64_t done, std::int64_t total) {
    progress.set_total(static_cast<double>(total));
    progress.update(static_cast<double>(done), cat(group_digits(done), "/", group_digits(total), " blocks"));
  };
  const MassResult r = diffusion::diffusion_mass(src.graph, coeffs, w.view(), opt);
  progress.finish();
  const int used = current_context().cpu_threads();
  if (json)
    std::printf("%s\n", dump_json(mass_json(src.description, r, coeffs, used)).c_str());
  else
    print_table(src.description, r, coeffs.describe(), used);
  return 0;
}

int run_mass(Args& args) {
  return with_one_line_errors(args, &run_mass_body);
}

const Registrar reg({
    .name = "mass",
    .summary = "share of diffused attention from tokens not directly connected, per hop",
    .usage = {"(--pattern SPEC --n N [--seed S] | --graph FILE [--n N])",
              "[--q Q.npy --k K.npy] [--hops K] [--alpha A | --theta t0,..]",
              "[--sample S | --exact] [--confidence C] [--threads T] [--json] [--quiet]"},
    .about = "How much diffused attention each token receives from tokens it is not directly connected to.\n"
             "A is the attention matrix on the graph: row i spreads token i's attention over its sources,\n"
             "uniformly (1/deg) or, with --q/--k, by softmax(q_i.k_j / sqrt(D)) per head; a token with no\n"
             "sources attends to itself. Diffusion is T = sum_k theta_k A^k. N1(i) is i and its sources.\n"
             "  outside_k(i) = sum over j not in N1(i) of (A^k)[i][j]\n"
             "is the share of token i's hop-k attention that comes from tokens outside N1(i): 0 for k = 0\n"
             "and k = 1, since only paths of length >= 2 leave N1(i). Per hop the table lists theta_k\n"
             "(normalized to sum 1), the mean / min / max of outside_k over tokens (and heads), and the\n"
             "contribution theta_k * mean; the contributions add up to the outside mass, the mean over\n"
             "tokens of sum_k theta_k outside_k(i): the share of all diffused attention that comes from\n"
             "tokens a token is not connected to.\n",
    .options = {
        graph_option_group(),
        {"attention",
         {
          {.label = "--q Q.npy --k K.npy",
           .help = "(N, H, D) float32/float64 arrays: softmax attention per head (default: uniform attention, one 'head')"},
         }},
        coefficient_option_group(),
        {"sampling",
         {
          {.label = "--exact",
           .help = "every token (default for N <= 4,096)"},
          {.label = "--sample S",
           .help = "S distinct tokens drawn with --seed (default beyond: 1,024); means come with a Hoeffding-Serfling half-width at --confidence (values lie in [0, 1])", .type = Option::Type::integer, .min = 1},
          {.label = "--confidence C",
           .help = "in (0, 1) (default 0.95)", .type = Option::Type::number, .min = 0, .max = 1, .open_min = true, .open_max = true},
          {.label = "--threads T",
           .help = "worker threads (default: all)", .type = Option::Type::integer, .min = 1, .max = 4096},
          {.label = "--json",
           .help = "one JSON object on stdout instead of the table"},
          {.label = "--quiet",
           .help = "no progress on stderr (after 2 s: a bar on a terminal, else a line now and then)"},
         }},
    },
    .notes = "cost: K passes over the edges for every 64 tokens (exact: N / 64 of them) and head.\n"
             "\n"
             "JSON keys: source, nodes, edges, attention ('uniform' or 'softmax'), heads, coefficients,\n"
             "hops, exact, sample_sources, confidence, half_width, per_hop [{k, theta, mean, min, max,\n"
             "contribution}], outside_mass, outside_mass_min, outside_mass_max, outside_mass_per_head,\n"
             "beyond_one_hop_theta, threads, seconds.\n"
             "\n"
             "examples:\n"
             "  diffuser mass --pattern diffuser --n 4096 --hops 5 --alpha 0.1\n"
             "  diffuser mass --pattern window:8 --n 1024 --q q.npy --k k.npy --json\n"
             "\n"
             "exit status: 0 success, 1 bad data (file, shape, N mismatch, NaN), 2 bad usage.\n",
    .docs = "[ANALYSIS.md](ANALYSIS.md)",
    .run = &run_mass,
    .order = 70,
});

}  // namespace

}  // namespace diffuser::cli
