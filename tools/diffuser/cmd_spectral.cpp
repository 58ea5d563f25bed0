// `diffuser spectral`: the second eigenvalue of the uniform-attention transition matrix
// P = D^-1 A (spectral gap), the symmetrized graph's normalized Laplacian gap and the Ramanujan
// bound, by sparse iterative eigensolvers.
#include <cstdio>
#include <string>

#include <diffuser/diffusion/spectral.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/error.hpp>

#include "analysis_util.hpp"
#include "cli.hpp"
#include "command_context.hpp"
#include "graph_source.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

namespace {

using diffusion::SpectralResult;

std::string spectral_help() {
  return cat(
      "usage: diffuser spectral (--pattern SPEC --n N [--seed S] | --graph FILE [--n N])\n"
      "                         [--tol T] [--max-iter M] [--krylov-dim D] [--no-laplacian]\n"
      "                         [--threads T] [--json] [--quiet]\n"
      "\n"
      "How fast repeated uniform attention mixes. P = D^-1 A: token i spreads its attention equally\n"
      "over its sources (row i of the CSR), so each row sums to 1; a token with no sources attends\n"
      "to itself. P has the eigenvalue 1 (P 1 = 1); lambda_2 is the eigenvalue of second-largest\n"
      "modulus (after removing one copy of 1) and spectral_gap = 1 - |lambda_2|: after k hops the\n"
      "non-stationary part of the attention shrinks like |lambda_2|^k. It is computed by\n"
      "Krylov-Schur (restarted Arnoldi) on P deflated by 1, never densely; the residual\n"
      "||P x - lambda_2 x|| / ||x|| of the returned eigenvector is recomputed and printed.\n"
      "\n"
      "Then the symmetrized graph (an undirected edge {i, j} for every j -> i or i -> j, i != j):\n"
      "lambda_2 and lambda_max of its normalized Laplacian L = I - D^-1/2 A D^-1/2 (thick-restart\n"
      "Lanczos; lambda_2 = 0 exactly when the graph is disconnected), and, when the degrees are\n"
      "near-regular (std/mean <= 0.1), the Ramanujan bound 2 sqrt(d - 1) / d (d = mean degree) to\n"
      "compare with the largest nontrivial |eigenvalue| of D^-1/2 A D^-1/2, max(|1 - lambda_2|,\n"
      "|1 - lambda_max|) (lambda_max is computed only then; null otherwise).\n"
      "\n",
      kGraphOptionsHelp,
      "options:\n"
      "  --tol T                residual target of the iterations (default 1e-10)\n"
      "  --max-iter M           matrix-vector products per eigenvalue problem (default 20000); a run\n"
      "                         that stops there reports converged: false and the residual reached\n"
      "  --krylov-dim D         basis size between restarts, 4..1000 (default 48)\n"
      "  --no-laplacian         skip the symmetrized graph\n"
      "  --threads T            worker threads (default: all)\n"
      "  --json                 one JSON object on stdout instead of text\n"
      "  --quiet                no progress lines on stderr\n"
      "\n"
      "JSON keys: source, nodes, edges, empty_rows, lambda2 {re, im}, lambda2_modulus, spectral_gap,\n"
      "iterations, restarts, residual, converged, laplacian (null with --no-laplacian, else\n"
      "{undirected_edges, components, degree {min, mean, max, cv}, near_regular, lambda2,\n"
      "lambda2_residual, lambda2_iterations, lambda2_converged, lambda_max, lambda_max_residual,\n"
      "lambda_max_iterations, lambda_max_converged, adjacency_nontrivial, ramanujan_bound}),\n"
      "threads, seconds.\n"
      "\n"
      "examples:\n"
      "  diffuser spectral --pattern diffuser --n 65536\n"
      "  diffuser spectral --pattern window:32 --n 4096 --json\n"
      "\n"
      "exit status: 0 success (also when not converged: see 'converged'), 1 bad data, 2 bad usage.\n");
}

void print_text(const std::string& source, const SpectralResult& r, int threads) {
  std::printf("graph:    %s: %s tokens, %s edges", source.c_str(), group_digits(r.nodes).c_str(),
              group_digits(r.edges).c_str());
  if (r.empty_rows)
    std::printf(" (%s tokens without sources: self loops in P)", group_digits(r.empty_rows).c_str());
  std::printf("\n\ntransition matrix P = D^-1 A (uniform attention)\n");
  std::printf("  lambda_2:        %.10g %+.10gi\n", r.lambda2.real(), r.lambda2.imag());
  std::printf("  |lambda_2|:      %.10g\n", r.lambda2_modulus);
  std::printf("  spectral gap:    %.10g\n", r.spectral_gap);
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
  std::printf("\ntime:     %.3f s (%d thread%s)\n", r.seconds, threads, threads == 1 ? "" : "s");
}

std::string to_json(const std::string& source, const SpectralResult& r, int threads) {
  JsonWriter j;
  j.begin_object();
  j.field("source", source).field("nodes", r.nodes).field("edges", r.edges).field("empty_rows", r.empty_rows);
  j.key("lambda2").begin_object().field("re", r.lambda2.real()).field("im", r.lambda2.imag()).end_object();
  j.field("lambda2_modulus", r.lambda2_modulus).field("spectral_gap", r.spectral_gap);
  j.field("iterations", r.transition.iterations).field("restarts", r.transition.restarts);
  j.field("residual", r.transition.residual).field("converged", r.transition.converged);
  j.key("laplacian");
  if (!r.has_laplacian) {
    j.null();
  } else {
    j.begin_object();
    j.field("undirected_edges", r.undirected_edges).field("components", r.components);
    j.key("degree").begin_object().field("min", r.degree_min).field("mean", r.degree_mean);
    j.field("max", r.degree_max).field("cv", r.degree_cv).end_object();
    j.field("near_regular", r.near_regular);
    const auto& a = r.laplacian_lambda2;
    j.field("lambda2", a.value)
        .field("lambda2_residual", a.residual)
        .field("lambda2_iterations", a.iterations);
    j.field("lambda2_converged", a.converged);
    if (r.has_lambda_max) {
      const auto& b = r.laplacian_lambda_max;
      j.field("lambda_max", b.value).field("lambda_max_residual", b.residual);
      j.field("lambda_max_iterations", b.iterations).field("lambda_max_converged", b.converged);
      j.field("adjacency_nontrivial", r.adjacency_nontrivial);
    } else {
      j.key("lambda_max").null().key("lambda_max_residual").null().key("lambda_max_iterations").null();
      j.key("lambda_max_converged").null().key("adjacency_nontrivial").null();
    }
    j.field("ramanujan_bound", r.ramanujan_bound);
    j.end_object();
  }
  j.field("threads", threads).field("seconds", r.seconds);
  j.end_object();
  return j.str();
}

int run_spectral_body(Args& args) {
  diffusion::SpectralOptions opt;
  opt.tol = args.get_double("tol", 1e-10);
  opt.max_iterations = args.get_int("max-iter", 20000);
  const auto dim = args.get_int("krylov-dim", 48);
  opt.laplacian = !args.flag("no-laplacian");
  const int threads = threads_option(args);
  const bool json = args.flag("json");
  const bool quiet = args.flag("quiet");
  finish_except_graph_options(args);
  if (!(opt.tol > 0.0 && opt.tol < 1.0)) throw UsageError(cat("--tol must be in (0, 1), got ", opt.tol));
  if (opt.max_iterations < 1) throw UsageError(cat("--max-iter must be >= 1, got ", opt.max_iterations));
  if (dim < 4 || dim > 1000) throw UsageError(cat("--krylov-dim must be in [4, 1000], got ", dim));
  opt.krylov_dim = static_cast<int>(dim);

  cli::CommandContext command_context(threads);
  GraphSource src = graph_from_args(args);
  args.finish();
  require_tokens(src.graph, src.description, 2, "a spectral gap");
  Progress progress("spectral", !quiet);
  opt.progress = [&](const std::string& stage, std::int64_t iters, double s) {
    progress.line(cat(stage, " done after ", group_digits(iters), " matrix-vector products"), s);
  };
  const SpectralResult r = diffusion::spectral(src.graph, opt);
  const int used = current_context().cpu_threads();
  if (json)
    std::printf("%s\n", to_json(src.description, r, used).c_str());
  else
    print_text(src.description, r, used);
  return 0;
}

int run_spectral(Args& args) {
  return with_one_line_errors(args, &run_spectral_body);
}

const Registrar reg({"spectral",
                     "spectral gap of uniform attention P = D^-1 A; Laplacian gap, Ramanujan bound",
                     spectral_help(), &run_spectral, 60});

}  // namespace

}  // namespace diffuser::cli
