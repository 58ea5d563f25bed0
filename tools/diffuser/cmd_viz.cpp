// `diffuser viz`: pictures of a token graph (pattern, k-hop reachability, one token's receptive
// field, one token's diffused attention row) as SVG or PNG, and node-link drawings of small
// graphs through GraphViz.
#include <cmath>
#include <cstdio>
#include <string>

#include <diffuser/diffusion/mass.hpp>
#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/npy.hpp>
#include <diffuser/viz/figures.hpp>
#include <diffuser/viz/graphviz.hpp>

#include "analysis_util.hpp"
#include "cli.hpp"
#include "command_context.hpp"
#include "graph_source.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

namespace {

namespace fs = std::filesystem;

std::string viz_help() {
  return cat(
      "usage: diffuser viz (--pattern SPEC --n N [--seed S] | --graph FILE [--n N]) --out FILE.(svg|png)\n"
      "                    [--kind pattern|reach|field|attention|graph] [--hops K] [--token i]\n"
      "                    [--q Q.npy --k K.npy [--v V.npy]] [--alpha A | --theta t0,..]\n"
      "                    [--layout circle|neato|dot] [--title TEXT] [--size PX] [--threads T]\n"
      "\n"
      "Draws a token graph. The format follows the extension of --out: .svg (text stays text,\n"
      "cells are vector rectangles when there are few) or .png (rendered by diffuser itself).\n"
      "\n",
      kGraphOptionsHelp,
      "kinds (--kind, default pattern):\n"
      "  pattern     the attention matrix: a cell (i, j) for every edge j -> i, rows = query i, columns\n"
      "              = key j; exact cells (at least one pixel per token) up to N = ",
      group_digits(viz::kExactPatternLimit),
      ", beyond\n"
      "              a heat map of edge density per bin (log colour bar)\n"
      "  reach       cell (i, j) coloured by the hops token i needs to receive from j, up to --hops\n"
      "              (default 2): exact up to N = ",
      group_digits(viz::kExactPatternLimit),
      ", the fraction within --hops per bin up to N = 16,384\n"
      "  field       the receptive field of --token i after 0..--hops hops (default 4), one strip a hop\n"
      "  attention   row i of the diffusion T = sum_k theta_k A^k (--hops, default 5; --alpha or --theta)\n"
      "              per head, log colour, i's direct neighbours marked; A is softmax(q.k/sqrt(D)) from\n"
      "              --q/--k (default: uniform). With --v, also each key's share of the output:\n"
      "              T[i][j] ||v_j|| / sum_j T[i][j] ||v_j||\n"
      "  graph       node-link drawing for N <= ",
      viz::kMaxNodeLink,
      " through GraphViz (tokens on a circle in order with\n"
      "              --layout circle, the default; neato or dot layouts otherwise). --out .dot writes the\n"
      "              DOT file; without GraphViz installed, .svg/.png fall back to FILE.dot (a note says so)\n"
      "options:\n"
      "  --token i              the token of field/attention (default N / 2)\n"
      "  --title TEXT           the picture's title (default: kind and graph)\n"
      "  --size PX              side of the plot area, 128..2048 (default 640; exact pictures grow to one\n"
      "                         pixel a token when N is larger)\n"
      "  --threads T            worker threads (default: all)\n"
      "\n"
      "examples:\n"
      "  diffuser viz --pattern window:1 --n 8 --out w.svg\n"
      "  diffuser viz --pattern diffuser --n 4096 --kind reach --hops 2 --out reach.png\n"
      "  diffuser viz --pattern 'window:2+random:1' --n 64 --kind field --token 20 --hops 6 --out f.png\n"
      "  diffuser viz --pattern diffuser --n 1024 --kind attention --q q.npy --k k.npy --v v.npy --out "
      "a.png\n"
      "  diffuser viz --pattern 'window:1+global:1' --n 24 --kind graph --out g.svg\n"
      "\n"
      "exit status: 0 success, 1 bad data (file, token out of range, N too large for the kind), 2 bad "
      "usage.\n");
}

enum class Kind { pattern, reach, field, attention, graph };

Kind parse_kind(const std::string& k) {
  if (k == "pattern") return Kind::pattern;
  if (k == "reach") return Kind::reach;
  if (k == "field") return Kind::field;
  if (k == "attention") return Kind::attention;
  if (k == "graph") return Kind::graph;
  throw UsageError(
      cat("--kind: unknown kind '", k, "' (expected pattern, reach, field, attention or graph)"));
}

void write_text(const fs::path& path, const std::string& bytes) {
  AtomicOutput out(path);
  out.stream().write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.commit();
}

// ||v_j|| averaged over heads, from an (N, H, D) file.
std::vector<double> value_norms(const fs::path& path, std::int64_t n) {
  npy::Header h;
  const Buffer<float> v = npy::load_f32(path, &h, 3);
  if (h.shape[0] != n) throw Error(cat(path.string(), " has ", h.shape[0], " tokens but the graph has ", n));
  const std::int64_t heads = h.shape[1], d = h.shape[2];
  if (heads < 1 || d < 1) throw Error(cat(path.string(), ": empty dimension in shape ", h.shape_string()));
  std::vector<double> out(static_cast<std::size_t>(n), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t hh = 0; hh < heads; ++hh) {
      double s = 0;
      for (std::int64_t x = 0; x < d; ++x) {
        const double e = v[(i * heads + hh) * d + x];
        if (!std::isfinite(e))
          throw Error(cat(path.string(), ": element (", i, ", ", hh, ", ", x, ") is not finite"));
        s += e * e;
      }
      out[static_cast<std::size_t>(i)] += std::sqrt(s) / static_cast<double>(heads);
    }
  return out;
}

int run_viz_body(Args& args) {
  const fs::path out = args.require("out");
  const Kind kind = parse_kind(args.get("kind").value_or("pattern"));
  // attention reads --hops through the coefficient options below; a probe keeps it for the checks.
  Args probe = args;
  const auto hops_opt = probe.get_int("hops");
  const auto token_opt = args.get_int("token");
  const auto title = args.get("title");
  const auto layout_name = args.get("layout");
  const auto v_path = args.get("v");
  const auto size = args.get_int("size");
  const int threads = threads_option(args);
  QkPaths qk;
  std::optional<diffusion::Coefficients> coeffs;
  if (kind == Kind::attention) {
    qk = qk_option(args);
    coeffs = coefficients_option(args, 5);
  } else {
    args.get_int("hops");
    for (const char* name : {"q", "k", "alpha", "theta"})
      if (args.get(name)) throw UsageError(cat("--", name, " applies to --kind attention only"));
  }
  finish_except_graph_options(args);
  const std::string ext = out.extension().string();
  const bool dot_out = ext == ".dot" || ext == ".gv";
  if (ext != ".svg" && ext != ".png" && !(dot_out && kind == Kind::graph))
    throw UsageError(cat("--out ", out.string(), ": the picture format follows the extension: .svg or .png",
                         kind == Kind::graph ? " (or .dot)" : ""));
  if (layout_name && kind != Kind::graph) throw UsageError("--layout applies to --kind graph only");
  if (v_path && kind != Kind::attention) throw UsageError("--v applies to --kind attention only");
  if (token_opt && kind != Kind::field && kind != Kind::attention)
    throw UsageError("--token applies to --kind field and attention only");
  if (hops_opt && (kind == Kind::pattern || kind == Kind::graph))
    throw UsageError("--hops applies to --kind reach, field and attention only");
  if (size && (*size < 128 || *size > 2048))
    throw UsageError(cat("--size must be in [128, 2048], got ", *size));
  const viz::Layout layout = viz::parse_layout(layout_name.value_or("circle"));
  check_output_path(out, "out");

  cli::CommandContext command_context(threads);
  GraphSource src = graph_from_args(args);
  args.finish();
  const Csr& g = src.graph;
  const std::int64_t n = g.num_nodes();
  require_tokens(g, src.description, kind == Kind::reach ? 2 : 1, "a picture");
  std::string source = src.description;
  if (const auto p = source.find(" (N="); p != std::string::npos) source = source.substr(0, p);
  viz::FigureOptions fo;
  if (title) fo.title = *title;
  if (size) fo.plot = static_cast<int>(*size);
  const std::int64_t token = token_opt.value_or(n / 2);
  if (token < 0 || token >= n) throw Error(cat("--token ", token, " is out of range [0, ", n, ")"));

  viz::Canvas canvas(1, 1);
  switch (kind) {
    case Kind::pattern:
      canvas = viz::pattern_figure(g, source, fo);
      break;
    case Kind::reach:
      canvas = viz::reach_figure(g, static_cast<int>(hops_opt.value_or(2)), source, fo);
      break;
    case Kind::field:
      canvas = viz::field_figure(g, token, static_cast<int>(hops_opt.value_or(4)), source, fo);
      break;
    case Kind::attention: {
      const Matrix<float> w = load_attention(g, qk);
      viz::AttentionRows rows;
      const int heads = w.view().data ? static_cast<int>(w.cols()) : 1;
      for (int h = 0; h < heads; ++h)
        rows.rows.push_back(diffusion::diffused_row(g, *coeffs, w.view(), h, token));
      if (v_path) rows.value_norms = value_norms(*v_path, n);
      rows.attention = qk.given() ? cat("softmax attention, ", heads, " head", heads == 1 ? "" : "s")
                                  : "uniform attention";
      rows.coefficients = coeffs->describe();
      canvas = viz::attention_figure(g, token, rows, source, fo);
      break;
    }
    case Kind::graph: {
      if (n > viz::kMaxNodeLink)
        throw Error(cat("a node-link drawing needs N <= ", viz::kMaxNodeLink, ", the graph has ",
                        group_digits(n), " tokens (use --kind pattern)"));
      const std::string dot = viz::node_link_dot(g, title.value_or(source), layout);
      if (dot_out) {
        write_text(out, dot);
      } else if (!viz::render_graphviz(dot, layout, out)) {
        fs::path alt = out;
        alt.replace_extension(".dot");
        check_output_path(alt, "out");
        write_text(alt, dot);
        std::fprintf(stderr,
                     "diffuser viz: GraphViz ('%s') is not installed: wrote %s instead; render it with\n"
                     "  %s -T%s %s%s -o %s\n",
                     layout == viz::Layout::dot ? "dot" : "neato", alt.c_str(),
                     layout == viz::Layout::dot ? "dot" : "neato", ext.substr(1).c_str(),
                     layout == viz::Layout::circle ? "-n2 " : "", alt.c_str(), out.c_str());
        std::printf("wrote %s (DOT)\n", alt.c_str());
        return 0;
      }
      std::printf("wrote %s (node-link drawing, %s tokens)\n", out.c_str(), group_digits(n).c_str());
      return 0;
    }
  }
  if (ext == ".png") {
    write_text(out, canvas.png());
  } else {
    write_text(out, canvas.svg(fo.title.empty() ? source : fo.title));
  }
  std::printf("wrote %s (%d x %d)\n", out.c_str(), canvas.width(), canvas.height());
  return 0;
}

int run_viz(Args& args) {
  return with_one_line_errors(args, &run_viz_body);
}

const Registrar reg({"viz", "pictures: pattern, k-hop reach, receptive field, diffused attention, node-link",
                     viz_help(), &run_viz, 80});

}  // namespace

}  // namespace diffuser::cli
