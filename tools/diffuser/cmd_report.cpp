// `diffuser report`: one self-contained HTML page comparing token-graph patterns side by side
// (statistics, degree histograms, pattern pictures, coverage curves, spectral gaps, diffusion mass).
#include <cstdio>
#include <string>

#include <diffuser/diffusion/mass.hpp>
#include <diffuser/diffusion/reach.hpp>
#include <diffuser/diffusion/spectral.hpp>
#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>
#include <diffuser/graphs/pattern.hpp>
#include <diffuser/graphs/stats.hpp>
#include <diffuser/viz/report.hpp>

#include "analysis_util.hpp"
#include "cli.hpp"
#include "command_context.hpp"
#include "progress.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

namespace {

int run_report_body(Args& args) {
  const std::vector<std::string> patterns = args.get_all("pattern");
  const auto n = args.get_int("n");
  const auto seed = args.get_int("seed", 0);
  const std::string out = args.require("out");
  const auto max_hops = args.get_int("max-hops", 8);
  const diffusion::Coefficients coeffs = coefficients_option(args, 5);
  const auto title = args.get("title");
  const int threads = threads_option(args);
  const bool quiet = args.flag("quiet");
  args.finish();
  if (patterns.empty()) throw UsageError("missing --pattern: give one or more pattern expressions");
  if (!n) throw UsageError("missing --n N (the number of tokens)");
  if (std::filesystem::path(out).extension() != ".html" && std::filesystem::path(out).extension() != ".htm")
    throw UsageError(cat("--out ", out, ": the report is HTML; name it FILE.html"));
  check_output_path(out, "out");
  // Parse every expression before any work, so a typo in the last one fails at once.
  std::vector<std::pair<std::string, std::string>> specs;
  for (const std::string& p : patterns) {
    const auto eq = p.find('=');
    std::string label = eq == std::string::npos ? p : p.substr(0, eq);
    std::string spec = eq == std::string::npos ? p : p.substr(eq + 1);
    if (label.empty() || spec.empty())
      throw UsageError(cat("--pattern '", p, "': expected LABEL=SPEC or SPEC"));
    graphs::parse_pattern(spec);
    specs.emplace_back(label, spec);
  }

  cli::CommandContext command_context(threads);
  Progress progress("report", progress_style(quiet));
  progress.stage("analysis", static_cast<double>(specs.size() * 4));
  viz::AnalysisOptions ao;
  ao.n = *n;
  ao.seed = static_cast<std::uint64_t>(seed);
  ao.max_hops = static_cast<int>(max_hops);
  ao.coefficients = coeffs;
  std::vector<viz::PatternReport> reports;
  for (const auto& [label, spec] : specs) {
    int part = 0;
    ao.progress = [&, label = label](const std::string& name) {
      progress.update(static_cast<double>(reports.size() * 4 + part++), cat(label, ": ", name));
    };
    viz::PatternReport r = viz::analyse_pattern(label, spec, ao);
    const auto& sp = r.spectral;
    progress.note(cat(
        label, ": ", group_digits(r.stats.edges), " edges, full coverage ",
        r.reach.full_coverage_hops ? cat("at ", *r.reach.full_coverage_hops, " hops") : std::string("never"),
        ", gap ", sp.lambda2_reliable ? fmt_num(sp.spectral_gap, 4) : std::string("unreliable"), ", mixing ",
        sp.mixing && sp.mixing->mixing_hops ? cat(*sp.mixing->mixing_hops, " hops")
                                            : std::string("beyond the profile"),
        ", outside mass ", fmt_pct(r.mass.outside_mass, 1)));
    reports.push_back(std::move(r));
  }
  progress.finish();
  viz::ReportMeta meta;
  meta.title = title.value_or(cat("Token-graph report, N = ", group_digits(*n)));
  meta.n = *n;
  meta.seed = static_cast<std::uint64_t>(seed);
  meta.coefficients = coeffs.describe();
  meta.command = cat("diffuser report");
  for (const auto& [label, spec] : specs)
    meta.command += cat(" --pattern ", label == spec ? spec : label + "=" + spec);
  meta.command += cat(" --n ", *n, seed ? cat(" --seed ", seed) : std::string());
  const std::string html = viz::render_report(reports, meta);
  AtomicOutput file(out);
  file.stream() << html;
  file.commit();
  std::printf("wrote %s (%zu pattern%s, %s bytes)\n", out.c_str(), reports.size(),
              reports.size() == 1 ? "" : "s", group_digits(static_cast<std::int64_t>(html.size())).c_str());
  return 0;
}

int run_report(Args& args) {
  return with_one_line_errors(args, &run_report_body);
}

const Registrar reg({
    .name = "report",
    .summary = "self-contained HTML report comparing patterns side by side",
    .usage = {"--pattern [LABEL=]SPEC [--pattern [LABEL=]SPEC ...] --n N --out report.html",
              "[--seed S] [--max-hops K] [--hops K] [--alpha A | --theta t0,..]",
              "[--title TEXT] [--threads T] [--quiet]"},
    .about = "Analyses every pattern over N tokens and writes one self-contained HTML file (inline SVG and\n"
             "CSS, no network needed to open it) that compares them side by side: a summary table, coverage\n"
             "versus hops (diffuser reach), the spectral gap of uniform attention and the mixing profile\n"
             "(diffuser spectral), the diffusion mass per hop (diffuser mass, uniform attention), and per\n"
             "pattern its picture, in-degree histogram and statistics. LABEL names a pattern in legends\n"
             "(default: the expression).\n",
    .options = {
        {"options",
         {
          {.label = "--pattern [LABEL=]SPEC", .help = "a pattern expression (repeat for each; see `diffuser graph --help`)", .repeatable = true},
          {.label = "--n N",
           .help = "tokens (the same for every pattern)", .type = Option::Type::integer, .min = 2, .max = static_cast<double>(kMaxNodes)},
          {.label = "--seed S",
           .help = "seed of the random terms and of any sampling (default 0)", .type = Option::Type::integer, .min = 0},
          {.label = "--out FILE.html",
           .help = "the report, written only when every pattern succeeded"},
          {.label = "--max-hops K",
           .help = "hops of the coverage curves (default 8)", .type = Option::Type::integer, .min = 1, .max = 64},
          {.label = "--hops K", .help = "hops of the mass section's diffusion (default 5)", .type = Option::Type::integer, .min = 0, .max = diffusion::kMaxHops},
          {.label = "--alpha A", .help = "its PPR teleport weight (default 0.1)", .type = Option::Type::number, .min = 0, .max = 1},
          {.label = "--theta t0,..", .help = "or its coefficients themselves", .type = Option::Type::numbers},
          {.label = "--title TEXT",
           .help = "page title (default: 'Token-graph report, N = ...')"},
          {.label = "--threads T",
           .help = "worker threads (default: all)", .type = Option::Type::integer, .min = 1, .max = 4096},
          {.label = "--quiet",
           .help = "no progress on stderr (a bar on a terminal, else a line now and then)"},
         }},
    },
    .notes = "Reachability is exact for N <= 16,384 and diffusion mass for N <= 4,096; beyond, both are estimated from sampled\n"
             "tokens and the table says so with the error bound.\n"
             "\n"
             "example:\n"
             "  diffuser report --pattern recipe=diffuser --pattern window=window:140 \\\n"
             "                  --pattern bigbird=bigbird:64:1:1 --n 4096 --out report.html\n"
             "\n"
             "exit status: 0 success, 1 bad data (pattern file, memory), 2 bad usage.\n",
    .docs = "[ANALYSIS.md](ANALYSIS.md)",
    .run = &run_report,
    .order = 90,
});

}  // namespace

}  // namespace diffuser::cli
