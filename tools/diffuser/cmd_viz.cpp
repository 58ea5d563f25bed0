// `diffuser viz`: pictures of a token graph (pattern, k-hop reachability, one token's receptive
// field, one token's diffused attention row, node-link drawings) through the viz library, as PNG,
// SVG or PDF. This file reads the options and the input files; diffuser_viz draws.
#include <cstdio>
#include <string>

#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/npy.hpp>
#include <diffuser/viz/figures.hpp>
#include <diffuser/viz/viz.hpp>

#include "analysis_util.hpp"
#include "cli.hpp"
#include "command_context.hpp"
#include "graph_source.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

namespace {

namespace fs = std::filesystem;

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
  return viz::mean_value_norms(
      tensor3_view(static_cast<const float*>(v.data()), h.shape[0], h.shape[1], h.shape[2]), path.string());
}

int run_viz_body(Args& args) {
  const fs::path out = args.require("out");
  viz::Request req;
  req.kind = viz::parse_kind(args.get("kind").value_or("pattern"));
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
  if (req.kind == viz::Kind::attention) {
    qk = qk_option(args);
    req.coefficients = coefficients_option(args, 5);
  } else {
    args.get_int("hops");
    for (const char* name : {"q", "k", "alpha", "theta"})
      if (args.get(name)) throw UsageError(cat("--", name, " applies to --kind attention only"));
  }
  finish_except_graph_options(args);
  const std::string ext = out.extension().string();
  const bool dot_out = req.kind == viz::Kind::graph && (ext == ".dot" || ext == ".gv");
  if (!dot_out && ext != ".svg" && ext != ".png" && ext != ".pdf")
    throw UsageError(cat("--out ", out.string(),
                         ": the picture format follows the extension: .png, .svg or .pdf",
                         req.kind == viz::Kind::graph ? " (or .dot)" : ""));
  if (layout_name && req.kind != viz::Kind::graph) throw UsageError("--layout applies to --kind graph only");
  if (v_path && req.kind != viz::Kind::attention) throw UsageError("--v applies to --kind attention only");
  if (token_opt && req.kind != viz::Kind::field && req.kind != viz::Kind::attention)
    throw UsageError("--token applies to --kind field and attention only");
  if (hops_opt && (req.kind == viz::Kind::pattern || req.kind == viz::Kind::graph))
    throw UsageError("--hops applies to --kind reach, field and attention only");
  req.layout = viz::parse_layout(layout_name.value_or("circle"));
  check_outputs_not_inputs(graph_inputs(args), {{"out", out}});
  check_output_path(out, "out");

  cli::CommandContext command_context(threads);
  GraphSource src = graph_from_args(args);
  args.finish();
  const Csr& g = src.graph;
  const std::int64_t n = g.num_nodes();
  require_tokens(g, src.description, req.kind == viz::Kind::reach ? 2 : 1, "a picture");
  req.source = src.description;
  if (const auto p = req.source.find(" (N="); p != std::string::npos) req.source = req.source.substr(0, p);
  if (title) req.title = *title;
  if (size) req.plot = static_cast<int>(*size);
  if (req.kind != viz::Kind::attention && hops_opt) req.hops = static_cast<int>(*hops_opt);
  if (token_opt) req.token = *token_opt;
  if (req.token && (*req.token < 0 || *req.token >= n))
    throw Error(cat("--token ", *req.token, " is out of range [0, ", n, ")"));
  const Matrix<float> w = req.kind == viz::Kind::attention ? load_attention(g, qk) : Matrix<float>{};
  req.weights = w.view();
  if (v_path) req.value_norms = value_norms(*v_path, n);

  if (req.kind == viz::Kind::graph) {
    if (n > viz::kMaxNodeLink)
      throw Error(cat("a node-link drawing needs N <= ", viz::kMaxNodeLink, ", the graph has ",
                      group_digits(n), " tokens (use --kind pattern)"));
    const std::string dot = viz::node_link_dot(g, title.value_or(req.source), req.layout);
    if (dot_out) {
      write_text(out, dot);
      std::printf("wrote %s (DOT)\n", out.c_str());
      return 0;
    }
    try {
      viz::render_to_file(g, req, out);
    } catch (const viz::GraphvizMissing& e) {
      fs::path alt = out;
      alt.replace_extension(".dot");
      check_output_path(alt, "out");
      write_text(alt, dot);
      const char* program = req.layout == viz::Layout::dot ? "dot" : "neato";
      std::fprintf(stderr,
                   "diffuser viz: GraphViz ('%s') is not installed: wrote %s instead; render it with\n"
                   "  %s -T%s %s%s -o %s\n",
                   program, alt.c_str(), program, ext.substr(1).c_str(),
                   req.layout == viz::Layout::circle ? "-n2 " : "", alt.c_str(), out.c_str());
      std::printf("wrote %s (DOT)\n", alt.c_str());
      return 0;
    }
    std::printf("wrote %s (node-link drawing, %s tokens)\n", out.c_str(), group_digits(n).c_str());
    return 0;
  }
  const viz::Picture pic = viz::render_to_file(g, req, out);
  std::printf("wrote %s (%d x %d)\n", out.c_str(), pic.width, pic.height);
  return 0;
}

int run_viz(Args& args) {
  return with_one_line_errors(args, &run_viz_body);
}

const Registrar reg({
    .name = "viz",
    .summary = "pictures: pattern, k-hop reach, receptive field, diffused attention, node-link",
    .usage = {"(--pattern SPEC --n N [--seed S] | --graph FILE [--n N]) --out FILE.(png|svg|pdf)",
              "[--kind pattern|reach|field|attention|graph] [--hops K] [--token i]",
              "[--q Q.npy --k K.npy [--v V.npy]] [--alpha A | --theta t0,..]",
              "[--layout circle|neato|dot] [--title TEXT] [--size PX] [--threads T]"},
    .about = "Draws a token graph. The format follows the extension of --out: .png, .svg or .pdf, all three\n"
             "drawn by Cairo from one drawing (antialiased, text in DejaVu Sans through fontconfig; cells stay\n"
             "sharp squares at any zoom).\n",
    .options = {
        graph_option_group(),
        {"picture",
         {
          {.label = "--out FILE", .help = ".png, .svg or .pdf (the format follows the extension); .dot with --kind graph", .required = true},
          {.label = "--kind K", .help = "pattern (default), reach, field, attention or graph (below)"},
          {.label = "--hops K", .help = "hops of reach, field and attention (defaults below)", .type = Option::Type::integer},
          {.label = "--token i", .help = "the token of field/attention (default N / 2)", .type = Option::Type::integer},
          {.label = "--q Q.npy --k K.npy", .help = "attention: A = softmax(q.k/sqrt(D)) from these (N, H, D) arrays (default: uniform)"},
          {.label = "--v V.npy", .help = "attention: also each key's share of the output"},
          {.label = "--alpha A", .help = "attention: PPR teleport weight in [0, 1] (default 0.1)", .type = Option::Type::number, .min = 0, .max = 1},
          {.label = "--theta t0,t1,..", .help = "attention: the coefficients themselves (K = count - 1)", .type = Option::Type::numbers},
          {.label = "--layout L", .help = "graph: circle (default), neato or dot"},
          {.label = "--title TEXT", .help = "the picture's title (default: kind and graph)"},
          {.label = "--size PX", .help = "side of the plot area, 128..2048 (default 640; exact pictures grow to one pixel a token when N is larger)", .type = Option::Type::integer, .min = 128, .max = 2048},
          {.label = "--threads T", .help = "worker threads (default: all)", .type = Option::Type::integer, .min = 1, .max = 4096},
         }},
    },
    .notes = "kinds (--kind, default pattern):\n"
             "  pattern     the attention matrix: a cell (i, j) for every edge j -> i, rows = query i, columns\n"
             "              = key j; exact cells (at least one pixel per token) up to N = 2,048, beyond\n"
             "              a heat map of edge density per bin (log colour bar)\n"
             "  reach       cell (i, j) coloured by the hops token i needs to receive from j, up to --hops\n"
             "              (default 2): exact up to N = 2,048, the fraction within --hops per bin up to N = 16,384\n"
             "  field       the receptive field of --token i after 0..--hops hops (default 4), one strip a hop\n"
             "  attention   row i of the diffusion T = sum_k theta_k A^k (--hops, default 5; --alpha or --theta)\n"
             "              per head, log colour, i's direct neighbours marked; A is softmax(q.k/sqrt(D)) from\n"
             "              --q/--k (default: uniform). With --v, also each key's share of the output:\n"
             "              T[i][j] ||v_j|| / sum_j T[i][j] ||v_j||\n"
             "  graph       node-link drawing for N <= 256 through GraphViz (tokens on a circle in order with\n"
             "              --layout circle, the default; neato or dot layouts otherwise). --out .dot writes the\n"
             "              DOT file; without GraphViz installed, .png/.svg/.pdf fall back to FILE.dot (a note says so)\n"
             "\n"
             "examples:\n"
             "  diffuser viz --pattern window:1 --n 8 --out w.svg\n"
             "  diffuser viz --pattern diffuser --n 4096 --kind reach --hops 2 --out reach.png\n"
             "  diffuser viz --pattern 'window:2+random:1' --n 64 --kind field --token 20 --hops 6 --out f.png\n"
             "  diffuser viz --pattern diffuser --n 1024 --kind attention --q q.npy --k k.npy --v v.npy --out a.png\n"
             "  diffuser viz --pattern 'window:1+global:1' --n 24 --kind graph --out g.svg\n"
             "\n"
             "exit status: 0 success, 1 bad data (file, token out of range, N too large for the kind), 2 bad usage.\n",
    .docs = "[ANALYSIS.md](ANALYSIS.md)",
    .run = &run_viz,
    .order = 80,
});

}  // namespace

}  // namespace diffuser::cli
