// `diffuser spectral`: the second eigenvalue of the uniform-attention transition matrix
// P = D^-1 A (spectral gap) and whether it can be trusted, the mixing profile, the symmetrized
// graph's normalized Laplacian gap and the Ramanujan bound.
#include <complex>
#include <cstdio>
#include <string>

#include <diffuser/diffusion/spectral.hpp>
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

using diffusion::SpectralResult;

std::string complex_text(std::complex<double> z) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g %+.10gi", z.real(), z.imag());
  return buf;
}

void print_mixing(const diffusion::MixingResult& m) {
  std::printf(
      "\nmixing of uniform attention: TV distance of a token's k-hop attention to the average token's\n");
  std::printf("  (%s)\n",
              m.exact ? "all tokens"
                      : cat(group_digits(m.sample_sources), " sampled tokens; mean +- ",
                            fmt_num(m.half_width, 2), " at ", fmt_pct(m.confidence, 0), ", max a lower bound")
                            .c_str());
  std::printf("  %6s  %8s  %8s\n", "hops", "mean", "max");
  for (const auto& h : m.hops)
    if (h.k <= 4 || (h.k & (h.k - 1)) == 0 || &h == &m.hops.back())
      std::printf("  %6d  %8.4f  %8.4f\n", h.k, h.mean, h.max);
  if (m.mixing_hops)
    std::printf("  mixed (every token within %.2f) after %d hop%s\n", diffusion::kMixedSpread, *m.mixing_hops,
                *m.mixing_hops == 1 ? "" : "s");
  else
    std::printf("  not mixed within %d hops (max %.3f > %.2f)\n", m.hops.empty() ? 0 : m.hops.back().k,
                m.hops.empty() ? 1.0 : m.hops.back().max, diffusion::kMixedSpread);
}

void print_text(const std::string& source, const SpectralResult& r, int threads) {
  std::printf("graph:    %s: %s tokens, %s edges", source.c_str(), group_digits(r.nodes).c_str(),
              group_digits(r.edges).c_str());
  if (r.empty_rows)
    std::printf(" (%s tokens without sources: self loops in P)", group_digits(r.empty_rows).c_str());
  std::printf("\n\ntransition matrix P = D^-1 A (uniform attention)\n");
  std::printf("  structure:       %s strongly connected component%s (largest %s tokens), %s closed; %s\n",
              group_digits(r.strong_components).c_str(), r.strong_components == 1 ? "" : "s",
              group_digits(r.largest_component).c_str(), group_digits(r.closed_classes).c_str(),
              r.symmetric ? "symmetric (real spectrum)" : "not symmetric");
  if (r.lambda2_reliable) {
    std::printf("  lambda_2:        %s\n", complex_text(r.lambda2).c_str());
    std::printf("  |lambda_2|:      %.10g\n", r.lambda2_modulus);
    std::printf("  spectral gap:    %.10g\n", r.spectral_gap);
  } else {
    std::printf("  lambda_2:        UNRELIABLE (the computed %s must not be used)\n",
                complex_text(r.lambda2).c_str());
    std::printf("  |lambda_2|:      -\n  spectral gap:    -\n");
  }
  std::printf("  method:          %s", r.lambda2_method.c_str());
  if (r.lambda2_condition)
    std::printf(", condition number %.3g, error bound %.1e", *r.lambda2_condition, r.lambda2_error_bound);
  std::printf("\n");
  if (!r.lambda2_note.empty()) std::printf("  note:            %s\n", r.lambda2_note.c_str());
  if (r.transition.iterations > 0 || !r.transition.converged)
    std::printf("  iterations:      %s matrix-vector products, %d restarts, residual %.2e%s\n",
                group_digits(r.transition.iterations).c_str(), r.transition.restarts, r.transition.residual,
                r.transition.converged ? "" : "  (NOT converged: raise --max-iter)");
  if (r.has_laplacian) {
    std::printf(
        "\nsymmetrized graph: %s undirected edges, %s component%s, degree %s / %s / %s (min/mean/max)\n",
        group_digits(r.undirected_edges).c_str(), group_digits(r.components).c_str(),
        r.components == 1 ? "" : "s", fmt_num(r.degree_min).c_str(), fmt_num(r.degree_mean, 6).c_str(),
        fmt_num(r.degree_max).c_str());
    auto line = [](const char* name, const diffusion::EigenEstimate& e) {
      std::printf("  %-17s%.10g   (%s products, residual %.2e%s)\n", name, e.value,
                  group_digits(e.iterations).c_str(), e.residual, e.converged ? "" : ", NOT converged");
    };
    line("L lambda_2:", r.laplacian_lambda2);
    if (r.has_lambda_max) {
      line("L lambda_max:", r.laplacian_lambda_max);
      std::printf("  max nontrivial |eigenvalue| of D^-1/2 A D^-1/2: %.6g\n", r.adjacency_nontrivial);
    }
    if (r.ramanujan_bound)
      std::printf("  Ramanujan bound 2 sqrt(d-1)/d:  %.6g (d = %.4g)%s\n", *r.ramanujan_bound, r.degree_mean,
                  r.adjacency_nontrivial <= *r.ramanujan_bound ? "  -> within the bound" : "");
    else
      std::printf("  Ramanujan bound: not applicable (degrees not near-regular: std/mean = %.3g)\n",
                  r.degree_cv);
  }
  if (r.mixing) print_mixing(*r.mixing);
  std::printf("\ntime:     %.3f s (%d thread%s)\n", r.seconds, threads, threads == 1 ? "" : "s");
}

int run_spectral_body(Args& args) {
  diffusion::SpectralOptions opt;
  opt.tol = args.get_double("tol", 1e-10);
  opt.max_iterations = args.get_int("max-iter", 20000);
  const auto dim = args.get_int("krylov-dim", 48);
  opt.laplacian = !args.flag("no-laplacian");
  const auto mixing_hops = args.get_int("mixing-hops", 16);
  const auto mixing_sample = args.get_int("mixing-sample");
  const int threads = threads_option(args);
  const bool json = args.flag("json");
  const bool quiet = args.flag("quiet");
  Args probe = args;
  const auto seed = probe.get_int("seed", 0);
  finish_except_graph_options(args);
  opt.krylov_dim = static_cast<int>(dim);
  opt.mixing_hops = static_cast<int>(mixing_hops);
  opt.mixing_sample = mixing_sample.value_or(-1);
  opt.seed = static_cast<std::uint64_t>(seed < 0 ? 0 : seed);

  cli::CommandContext command_context(threads);
  GraphSource src = graph_from_args(args);
  args.finish();
  require_tokens(src.graph, src.description, 2, "a spectral gap");
  Progress progress("spectral", progress_style(quiet));
  std::string stage;
  opt.progress = [&](const diffusion::SpectralProgress& p) {
    if (p.stage != stage) {
      stage = p.stage;
      progress.stage(stage, stage == "mixing" ? static_cast<double>(opt.mixing_hops) : 0.0);
    }
    progress.update(static_cast<double>(p.products),
                    stage == "mixing" ? cat("hop ", p.products) : cat(group_digits(p.products), " products"));
  };
  const SpectralResult r = diffusion::spectral(src.graph, opt);
  progress.finish();
  const int used = current_context().cpu_threads();
  if (json)
    std::printf("%s\n", dump_json(spectral_json(src.description, r, used)).c_str());
  else
    print_text(src.description, r, used);
  return 0;
}

int run_spectral(Args& args) {
  return with_one_line_errors(args, &run_spectral_body);
}

const Registrar reg({
    .name = "spectral",
    .summary = "spectral gap of uniform attention P = D^-1 A; Laplacian gap, Ramanujan bound",
    .usage = {"(--pattern SPEC --n N [--seed S] | --graph FILE [--n N])",
              "[--tol T] [--max-iter M] [--krylov-dim D] [--no-laplacian]",
              "[--mixing-hops K] [--mixing-sample S] [--threads T] [--json] [--quiet]"},
    .about = "How fast repeated uniform attention mixes. P = D^-1 A: token i spreads its attention equally\n"
             "over its sources (row i of the CSR), so each row sums to 1; a token with no sources attends\n"
             "to itself. P has the eigenvalue 1 (P 1 = 1); lambda_2 is the eigenvalue of second-largest\n"
             "modulus (after removing one copy of 1) and spectral_gap = 1 - |lambda_2|.\n"
             "\n"
             "P is split into its strongly connected components (P is block triangular in their order, so its\n"
             "eigenvalues are the blocks'): a single token gives its diagonal entry exactly (a causal window\n"
             "is all single tokens), small blocks are decomposed densely, large ones by Spectra (Lanczos when\n"
             "the block is symmetric, Arnoldi otherwise, never densely). For a non-symmetric block Arnoldi\n"
             "also runs on P^T for the left eigenvector, which gives the eigenvalue's condition number kappa:\n"
             "when P is so far from normal that a rounding error may move lambda_2 by more than 0.0001,\n"
             "lambda_2 and the gap are reported as unreliable instead of as a number (a small residual then\n"
             "proves nothing). The mixing profile measures mixing directly, whatever P: the total-variation\n"
             "distance between a token's k-hop attention (row i of P^k) and the average token's, per hop,\n"
             "and the hops until it is <= 1/4 for every (sampled) token.\n"
             "\n"
             "Then the symmetrized graph (an undirected edge {i, j} for every j -> i or i -> j, i != j):\n"
             "lambda_2 and lambda_max of its normalized Laplacian L = I - D^-1/2 A D^-1/2 (Lanczos;\n"
             "lambda_2 = 0 exactly when the graph is disconnected), and, when the degrees are near-regular\n"
             "(std/mean <= 0.1), the Ramanujan bound 2 sqrt(d - 1) / d (d = mean degree) to compare with the\n"
             "largest nontrivial |eigenvalue| of D^-1/2 A D^-1/2, max(|1 - lambda_2|, |1 - lambda_max|)\n"
             "(lambda_max is computed only then; null otherwise).\n",
    .options = {
        graph_option_group(),
        {"options",
         {
          {.label = "--tol T",
           .help = "relative residual target of the iterations (default 1e-10)", .type = Option::Type::number, .min = 0, .max = 1, .open_min = true, .open_max = true},
          {.label = "--max-iter M",
           .help = "matrix-vector products per eigenvalue problem (default 20000); a run that stops there reports converged: false", .type = Option::Type::integer, .min = 1},
          {.label = "--krylov-dim D",
           .help = "basis size between restarts, 4..1000 (default 48)", .type = Option::Type::integer, .min = 4, .max = 1000},
          {.label = "--no-laplacian",
           .help = "skip the symmetrized graph"},
          {.label = "--mixing-hops K",
           .help = "hops of the mixing profile, 0..4096 (default 16; 0: none)", .type = Option::Type::integer, .min = 0, .max = 4096},
          {.label = "--mixing-sample S",
           .help = "tokens of the mixing profile (default: all up to N = 512, else 64 to 256 drawn with --seed, fewer on larger graphs)", .type = Option::Type::integer, .min = 1},
          {.label = "--threads T",
           .help = "worker threads (default: all)", .type = Option::Type::integer, .min = 1, .max = 4096},
          {.label = "--json",
           .help = "one JSON object on stdout instead of text"},
          {.label = "--quiet",
           .help = "no progress on stderr (a bar on a terminal, else a line now and then)"},
         }},
    },
    .notes = "JSON keys: source, nodes, edges, empty_rows, lambda2 {re, im} (null when unreliable),\n"
             "lambda2_modulus, spectral_gap (null when unreliable), lambda2_computed {re, im}, lambda2_reliable,\n"
             "lambda2_method, lambda2_condition, lambda2_error_bound, lambda2_note, strong_components,\n"
             "closed_classes, largest_component, symmetric, iterations, restarts, residual, converged,\n"
             "laplacian (null with --no-laplacian, else {undirected_edges, components, degree {min, mean,\n"
             "max, cv}, near_regular, lambda2, lambda2_residual, lambda2_iterations, lambda2_converged,\n"
             "lambda_max, lambda_max_residual, lambda_max_iterations, lambda_max_converged,\n"
             "adjacency_nontrivial, ramanujan_bound}), mixing (null with --mixing-hops 0, else {exact,\n"
             "sample_sources, half_width, hops [{k, mean, max}], mixing_hops}), threads, seconds.\n"
             "\n"
             "examples:\n"
             "  diffuser spectral --pattern diffuser --n 65536\n"
             "  diffuser spectral --pattern window:32 --n 4096 --json\n"
             "\n"
             "exit status: 0 success (also when not converged or unreliable: see the JSON), 1 bad data, 2 bad\n"
             "usage.\n",
    .docs = "[ANALYSIS.md](ANALYSIS.md)",
    .run = &run_spectral,
    .order = 60,
});

}  // namespace

}  // namespace diffuser::cli
