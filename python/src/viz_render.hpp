// One call from a token graph to the bytes of a picture, for diffuser.viz and Graph._repr_png_.
// It mirrors the render-to-memory API the drawing library is getting on another branch
// (diffuser::viz::render(graph, Request, Format) -> Picture): when that lands, viz_render.cpp
// becomes a call to it. Today it drives the CLI's drawing code (tools/diffuser/viz_*) directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <diffuser/diffusion/coefficients.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/tensor.hpp>

namespace diffuser::python {

enum class VizKind { pattern, reach, field, attention, graph };
// "pattern", "reach", ...; throws Error naming the value otherwise.
VizKind parse_viz_kind(const std::string& name);

struct VizRequest {
  VizKind kind = VizKind::pattern;
  std::string source = "graph";       // names the graph in default titles
  std::string title;                  // empty: a default naming the kind and the source
  int plot = 640;                     // side of the plot area in pixels, 128..2048
  std::optional<int> hops;            // reach (default 2), field (4), attention (coefficients)
  std::optional<std::int64_t> token;  // field and attention (default N / 2)
  // attention: softmax weights (E, H) in CSR order (empty: uniform attention), the diffusion
  // (default PPR, K = 5, alpha = 0.1) and optionally ||v_j|| per token (mean over heads).
  MatrixView<const float> weights;
  std::optional<diffusion::Coefficients> coefficients;
  std::vector<double> value_norms;
  std::string layout = "circle";  // graph: circle, neato or dot
};

struct Picture {
  std::string bytes;
  int width = 0, height = 0;  // pixels; 0 for GraphViz drawings
};

// format: "png", "svg" (every kind) or "dot" (kind graph: the DOT text). Throws Error for options
// that do not fit the kind or a graph the kind cannot draw, and when GraphViz is missing for a
// graph drawing as PNG/SVG.
Picture render_picture(const Csr& g, const VizRequest& request, const std::string& format);

// ||v_j|| averaged over heads; throws Error naming `what` for NaN/Inf.
std::vector<double> mean_value_norms(Tensor3View<const float> v, const std::string& what);

}  // namespace diffuser::python
