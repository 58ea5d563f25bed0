// One call from a token graph to a picture: the kind (pattern, reach, field, attention, graph),
// its options, and the format. Renders to bytes in memory (PNG, SVG or PDF: what a Python
// binding returns) or to a file, written atomically.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <diffuser/diffusion/coefficients.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/tensor.hpp>
#include <diffuser/viz/canvas.hpp>
#include <diffuser/viz/graphviz.hpp>

namespace diffuser::viz {

enum class Kind { pattern, reach, field, attention, graph };
const char* kind_name(Kind k);
// "pattern", "reach", ...; throws UsageError naming the value otherwise.
Kind parse_kind(const std::string& name);

struct Request {
  Kind kind = Kind::pattern;
  std::string source = "graph";       // names the graph in default titles ("pattern 'window:2'")
  std::string title;                  // empty: a default naming the kind and the source
  int plot = 640;                     // side of the plot area in pixels, 128..2048
  std::optional<int> hops;            // reach (default 2), field (4); attention: see coefficients
  std::optional<std::int64_t> token;  // field and attention (default N / 2)
  // attention: softmax weights (E, H) in CSR order (empty view: uniform attention), the
  // diffusion (default PPR, K = 5, alpha = 0.1) and optionally ||v_j|| per token (mean over heads).
  MatrixView<const float> weights;
  std::optional<diffusion::Coefficients> coefficients;
  std::vector<double> value_norms;
  Layout layout = Layout::circle;  // graph
};

struct Picture {
  std::string bytes;
  Format format = Format::png;
  int width = 0, height = 0;  // pixels (points in PDF); 0 for GraphViz drawings
};

// Thrown for Kind::graph when GraphViz (neato/dot) is not installed; node_link_dot() still works.
class GraphvizMissing : public Error {
 public:
  using Error::Error;
};

// The picture as the bytes of a file of `format`. Throws UsageError for options that do not fit
// the kind, Error for a graph the kind cannot draw (too many tokens, token out of range).
Picture render(const Csr& g, const Request& request, Format format);
// The same, written atomically to `path` in the format its extension names (.png, .svg, .pdf).
Picture render_to_file(const Csr& g, const Request& request, const std::filesystem::path& path);

// ||v_j|| averaged over heads, for Request::value_norms; throws Error naming `what` for NaN/Inf.
std::vector<double> mean_value_norms(Tensor3View<const float> v, const std::string& what);

}  // namespace diffuser::viz
