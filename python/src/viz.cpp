// diffuser._core.viz: the arguments of diffuser.viz turned into a request of the drawing library
// (diffuser_viz, tools/viz), rendered to bytes in memory.
#include <optional>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/viz/viz.hpp>

#include "arrays.hpp"
#include "coefficients.hpp"
#include "graph.hpp"
#include "runtime.hpp"

namespace diffuser::python {

namespace py = pybind11;

namespace {

// "png", "svg", "pdf"; "dot" (the DOT text) for kind graph only.
std::optional<viz::Format> picture_format(const std::string& f, viz::Kind kind) {
  if (f == "png") return viz::Format::png;
  if (f == "svg") return viz::Format::svg;
  if (f == "pdf") return viz::Format::pdf;
  if (f == "dot" && kind == viz::Kind::graph) return std::nullopt;
  throw Error(cat("format must be 'png', 'svg' or 'pdf'", kind == viz::Kind::graph ? " (or 'dot')" : "",
                  ", got '", f, "'"));
}

py::tuple viz(const Graph& g, const std::string& kind, const std::string& format, std::optional<int> hops,
              std::optional<std::int64_t> token, py::handle q, py::handle k, py::handle v,
              std::optional<double> alpha, std::optional<std::vector<double>> theta,
              std::optional<std::string> title, std::optional<int> size, std::optional<std::string> layout,
              std::optional<int> threads) {
  viz::Request r;
  r.kind = viz::parse_kind(kind);
  const std::optional<viz::Format> fmt = picture_format(format, r.kind);
  r.source = g.source();
  if (const auto p = r.source.find(" (N="); p != std::string::npos) r.source = r.source.substr(0, p);
  r.title = title.value_or("");
  r.plot = size.value_or(640);
  r.token = token;
  if (layout && r.kind != viz::Kind::graph) throw Error("layout applies to kind 'graph' only");
  r.layout = viz::parse_layout(layout.value_or("circle"));
  const bool attention = r.kind == viz::Kind::attention;
  if (r.kind == viz::Kind::reach && hops && *hops < 1) throw Error(cat("hops must be >= 1, got ", *hops));
  if (!attention && (alpha || theta || !q.is_none() || !k.is_none() || !v.is_none()))
    throw Error("q, k, v, alpha and theta apply to kind 'attention' only");
  if (attention) {
    if (theta && (hops || alpha))
      throw Error(cat("theta gives theta_0..theta_K itself; drop ", hops ? "hops" : "alpha"));
    r.coefficients = coefficients(hops.value_or(5), alpha.value_or(0.1), theta, std::nullopt);
  } else {
    r.hops = hops;
  }
  check_threads(threads);
  // q, k: softmax weights of the graph's edges; v: the value norms of the attribution.
  Matrix<float> w;
  if (q.is_none() != k.is_none())
    throw Error("q and k go together (softmax attention), or neither (uniform)");
  std::optional<ArrayRef> qa, ka, va;
  Features qf, kf, vf;
  if (!q.is_none()) {
    qa = array_ref(q, "q");
    ka = array_ref(k, "k");
    qf = host_features(*qa);
    if (ka->shape != qa->shape)
      throw Error(cat("k has shape ", ka->shape_text(), " but q has ", qa->shape_text(),
                      "; q and k must have one shape (N, H, D)"));
    kf = host_features(*ka);
    if (qa->shape[0] != g.csr().num_nodes())
      throw Error(cat("q has ", qa->shape[0], " tokens but the graph has ", g.csr().num_nodes()));
  }
  if (!v.is_none()) {
    va = array_ref(v, "v");
    vf = host_features(*va);
    if (va->shape[0] != g.csr().num_nodes())
      throw Error(cat("v has ", va->shape[0], " tokens but the graph has ", g.csr().num_nodes()));
  }
  if (r.hops && (*r.hops < 0 || *r.hops > 1024)) throw Error(cat("hops must be in [0, 1024], got ", *r.hops));
  viz::Picture p;
  run_engine(threads, [&] {
    if (qa) {
      diffusion::check_finite(qf.view, "q");
      diffusion::check_finite(kf.view, "k");
      w = diffusion::attention_weights(g.csr(), qf.view, kf.view);
      r.weights = w.view();
    }
    if (va) r.value_norms = viz::mean_value_norms(vf.view, "v");
    if (fmt) {
      p = viz::render(g.csr(), r, *fmt);
    } else {
      if (g.csr().num_nodes() > viz::kMaxNodeLink)
        throw Error(cat("a node-link drawing needs N <= ", viz::kMaxNodeLink, ", the graph has ",
                        g.csr().num_nodes(), " tokens (use kind='pattern')"));
      p.bytes = viz::node_link_dot(g.csr(), r.title.empty() ? r.source : r.title, r.layout);
    }
  });
  return py::make_tuple(py::bytes(p.bytes), p.width, p.height);
}

}  // namespace

void bind_viz(py::module_& m) {
  m.def("viz", &viz, py::arg("graph"), py::arg("kind"), py::arg("format"), py::arg("hops"), py::arg("token"),
        py::arg("q"), py::arg("k"), py::arg("v"), py::arg("alpha"), py::arg("theta"), py::arg("title"),
        py::arg("size"), py::arg("layout"), py::arg("threads"));
}

}  // namespace diffuser::python
