// Depends on the CLI's drawing code as it stands on this branch: viz_figures.hpp (pattern_figure,
// reach_figure, field_figure, attention_figure), viz_canvas.hpp (Canvas::png/svg),
// viz_graphviz.hpp (node_link_dot, render_graphviz) and diffusion::diffused_row. The checks
// mirror `diffuser viz` (tools/diffuser/cmd_viz.cpp).
#include "viz_render.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include <diffuser/diffusion/mass.hpp>
#include <diffuser/engine/error.hpp>

#include "tool_util.hpp"
#include "viz_figures.hpp"
#include "viz_graphviz.hpp"

namespace diffuser::python {

namespace fs = std::filesystem;

VizKind parse_viz_kind(const std::string& k) {
  if (k == "pattern") return VizKind::pattern;
  if (k == "reach") return VizKind::reach;
  if (k == "field") return VizKind::field;
  if (k == "attention") return VizKind::attention;
  if (k == "graph") return VizKind::graph;
  throw Error(cat("kind: unknown kind '", k, "' (expected pattern, reach, field, attention or graph)"));
}

std::vector<double> mean_value_norms(Tensor3View<const float> v, const std::string& what) {
  std::vector<double> out(static_cast<std::size_t>(v.n), 0.0);
  for (std::int64_t i = 0; i < v.n; ++i)
    for (std::int64_t h = 0; h < v.h; ++h) {
      double s = 0;
      const float* row = v.at(i, h);
      for (std::int64_t x = 0; x < v.d; ++x) {
        const double e = row[x];
        if (!std::isfinite(e))
          throw Error(cat(what, " holds a non-finite value at [", i, ", ", h, ", ", x, "]"));
        s += e * e;
      }
      out[static_cast<std::size_t>(i)] += std::sqrt(s) / static_cast<double>(v.h);
    }
  return out;
}

namespace {

// A private temporary folder, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "diffuser-viz-XXXXXX").string();
    if (!mkdtemp(tmpl.data()))
      throw Error(cat("cannot create a temporary folder in ", fs::temp_directory_path()));
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Error(cat("cannot read ", p.string()));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Picture graph_picture(const Csr& g, const VizRequest& r, const std::string& format) {
  const std::int64_t n = g.num_nodes();
  if (n > cli::viz::kMaxNodeLink)
    throw Error(cat("a node-link drawing needs N <= ", cli::viz::kMaxNodeLink, ", the graph has ",
                    cli::group_digits(n), " tokens (use kind='pattern')"));
  const cli::viz::Layout layout = cli::viz::parse_layout(r.layout);
  const std::string dot = cli::viz::node_link_dot(g, r.title.empty() ? r.source : r.title, layout);
  if (format == "dot") return {dot, 0, 0};
  TempDir tmp;
  const fs::path out = tmp.path() / ("graph." + format);
  if (!cli::viz::render_graphviz(dot, layout, out))
    throw Error(cat("GraphViz ('", layout == cli::viz::Layout::dot ? "dot" : "neato",
                    "') is not installed: install graphviz, or ask for format='dot' (the DOT text)"));
  return {read_bytes(out), 0, 0};
}

}  // namespace

Picture render_picture(const Csr& g, const VizRequest& r, const std::string& format) {
  if (format != "png" && format != "svg" && !(format == "dot" && r.kind == VizKind::graph))
    throw Error(cat("format must be 'png' or 'svg'", r.kind == VizKind::graph ? " (or 'dot')" : "", ", got '",
                    format, "'"));
  if (r.plot < 128 || r.plot > 2048) throw Error(cat("size must be in [128, 2048], got ", r.plot));
  if (r.hops && (r.kind == VizKind::pattern || r.kind == VizKind::graph))
    throw Error("hops applies to kind 'reach', 'field' and 'attention' only");
  if (r.token && r.kind != VizKind::field && r.kind != VizKind::attention)
    throw Error("token applies to kind 'field' and 'attention' only");
  if (r.kind != VizKind::attention && (r.weights.data || r.coefficients || !r.value_norms.empty()))
    throw Error("q, k, v and the diffusion coefficients apply to kind 'attention' only");
  if (r.kind != VizKind::graph && r.layout != "circle") throw Error("layout applies to kind 'graph' only");
  const std::int64_t n = g.num_nodes();
  const std::int64_t need = r.kind == VizKind::reach ? 2 : 1;
  if (n < need)
    throw Error(cat("a picture of kind ", r.kind == VizKind::reach ? "'reach'" : "this kind",
                    " needs at least ", need, " tokens; the graph has ", n));
  if (r.hops && (*r.hops < 0 || *r.hops > 1024)) throw Error(cat("hops must be in [0, 1024], got ", *r.hops));
  const std::int64_t token = r.token.value_or(n / 2);
  if (token < 0 || token >= n) throw Error(cat("token ", token, " is out of range [0, ", n, ")"));
  if (r.kind == VizKind::graph) return graph_picture(g, r, format);

  cli::viz::FigureOptions fo;
  fo.title = r.title;
  fo.plot = r.plot;
  cli::viz::Canvas canvas(1, 1);
  switch (r.kind) {
    case VizKind::pattern:
      canvas = cli::viz::pattern_figure(g, r.source, fo);
      break;
    case VizKind::reach:
      canvas = cli::viz::reach_figure(g, r.hops.value_or(2), r.source, fo);
      break;
    case VizKind::field:
      canvas = cli::viz::field_figure(g, token, r.hops.value_or(4), r.source, fo);
      break;
    case VizKind::attention: {
      const diffusion::Coefficients c =
          r.coefficients.value_or(diffusion::Coefficients::ppr(r.hops.value_or(5), 0.1));
      cli::viz::AttentionRows rows;
      const int heads = r.weights.data ? static_cast<int>(r.weights.cols) : 1;
      for (int h = 0; h < heads; ++h) rows.rows.push_back(diffusion::diffused_row(g, c, r.weights, h, token));
      rows.value_norms = r.value_norms;
      rows.attention = r.weights.data ? cat("softmax attention, ", heads, " head", heads == 1 ? "" : "s")
                                      : "uniform attention";
      rows.coefficients = c.describe();
      canvas = cli::viz::attention_figure(g, token, rows, r.source, fo);
      break;
    }
    case VizKind::graph:
      break;
  }
  Picture p;
  p.bytes = format == "png" ? canvas.png() : canvas.svg(fo.title.empty() ? r.source : fo.title);
  p.width = canvas.width();
  p.height = canvas.height();
  return p;
}

}  // namespace diffuser::python
