#include <diffuser/viz/viz.hpp>

#include <cmath>

#include <diffuser/diffusion/mass.hpp>
#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/viz/figures.hpp>

#include "format.hpp"

namespace diffuser::viz {

namespace {

// The checks every kind shares; the figures check their own hops and tokens.
void check_request(const Csr& g, const Request& r) {
  if (g.device() != Device::cpu) throw Error("viz: the graph must be on the CPU");
  const std::int64_t n = g.num_nodes();
  const std::int64_t need = r.kind == Kind::reach ? 2 : 1;
  if (n < need)
    throw Error(cat("a ", kind_name(r.kind), " picture needs at least ", need, " token", need == 1 ? "" : "s",
                    ", the graph has ", n));
  if (r.plot < 128 || r.plot > 2048)
    throw UsageError(cat("the plot size must be in [128, 2048], got ", r.plot));
  if (r.hops && (r.kind == Kind::pattern || r.kind == Kind::graph))
    throw UsageError("hops apply to the reach, field and attention pictures only");
  if (r.token && r.kind != Kind::field && r.kind != Kind::attention)
    throw UsageError("a token applies to the field and attention pictures only");
  if (r.kind != Kind::attention && (r.weights.data || r.coefficients || !r.value_norms.empty()))
    throw UsageError("attention weights, coefficients and value norms apply to the attention picture only");
  if (r.token && (*r.token < 0 || *r.token >= n))
    throw Error(cat("--token ", *r.token, " is out of range [0, ", n, ")"));
}

std::string default_source(const Request& r) {
  return r.title.empty() ? r.source : r.title;
}

Canvas attention_canvas(const Csr& g, const Request& r, std::int64_t token, const FigureOptions& fo) {
  const std::int64_t n = g.num_nodes();
  const diffusion::Coefficients coeffs =
      r.coefficients.value_or(diffusion::Coefficients::ppr(r.hops.value_or(5), 0.1));
  if (r.weights.data && r.weights.rows != g.num_edges())
    throw Error(
        cat("attention weights have ", r.weights.rows, " rows but the graph has ", g.num_edges(), " edges"));
  if (!r.value_norms.empty() && static_cast<std::int64_t>(r.value_norms.size()) != n)
    throw Error(cat("value norms for ", r.value_norms.size(), " tokens but the graph has ", n));
  AttentionRows rows;
  const int heads = r.weights.data ? static_cast<int>(r.weights.cols) : 1;
  for (int h = 0; h < heads; ++h)
    rows.rows.push_back(diffusion::diffused_row(g, coeffs, r.weights, h, token));
  rows.value_norms = r.value_norms;
  rows.attention = r.weights.data ? cat("softmax attention, ", heads, " head", heads == 1 ? "" : "s")
                                  : std::string("uniform attention");
  rows.coefficients = coeffs.describe();
  return attention_figure(g, token, rows, r.source, fo);
}

Canvas figure(const Csr& g, const Request& r) {
  FigureOptions fo;
  fo.title = r.title;
  fo.plot = r.plot;
  const std::int64_t token = r.token.value_or(g.num_nodes() / 2);
  switch (r.kind) {
    case Kind::pattern:
      return pattern_figure(g, r.source, fo);
    case Kind::reach:
      return reach_figure(g, r.hops.value_or(2), r.source, fo);
    case Kind::field:
      return field_figure(g, token, r.hops.value_or(4), r.source, fo);
    case Kind::attention:
      return attention_canvas(g, r, token, fo);
    case Kind::graph:
      break;
  }
  throw Error("viz: node-link drawings come from GraphViz, not from a canvas");
}

std::string node_link(const Csr& g, const Request& r) {
  if (g.num_nodes() > kMaxNodeLink)
    throw Error(cat("a node-link drawing needs N <= ", kMaxNodeLink, ", the graph has ",
                    group_digits(g.num_nodes()), " tokens (use --kind pattern)"));
  return node_link_dot(g, default_source(r), r.layout);
}

[[noreturn]] void graphviz_missing(Layout layout) {
  throw GraphvizMissing(cat("GraphViz ('", layout == Layout::dot ? "dot" : "neato", "') is not installed"));
}

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::pattern:
      return "pattern";
    case Kind::reach:
      return "reach";
    case Kind::field:
      return "field";
    case Kind::attention:
      return "attention";
    case Kind::graph:
      return "graph";
  }
  return "?";
}

Kind parse_kind(const std::string& name) {
  for (const Kind k : {Kind::pattern, Kind::reach, Kind::field, Kind::attention, Kind::graph})
    if (name == kind_name(k)) return k;
  throw UsageError(
      cat("--kind: unknown kind '", name, "' (expected pattern, reach, field, attention or graph)"));
}

Picture render(const Csr& g, const Request& r, Format format) {
  check_request(g, r);
  Picture p;
  p.format = format;
  if (r.kind == Kind::graph) {
    std::optional<std::string> bytes = render_graphviz_bytes(node_link(g, r), r.layout, format);
    if (!bytes) graphviz_missing(r.layout);
    p.bytes = std::move(*bytes);
    return p;
  }
  const Canvas c = figure(g, r);
  p.bytes = c.render(format, default_source(r));
  p.width = c.width();
  p.height = c.height();
  return p;
}

Picture render_to_file(const Csr& g, const Request& r, const std::filesystem::path& path) {
  const Format format = format_from_path(path);
  if (r.kind == Kind::graph) {
    check_request(g, r);
    if (!render_graphviz(node_link(g, r), r.layout, path)) graphviz_missing(r.layout);
    Picture p;
    p.format = format;
    return p;
  }
  Picture p = render(g, r, format);
  AtomicOutput out(path);
  out.stream().write(p.bytes.data(), static_cast<std::streamsize>(p.bytes.size()));
  out.commit();
  return p;
}

std::vector<double> mean_value_norms(Tensor3View<const float> v, const std::string& what) {
  std::vector<double> out(static_cast<std::size_t>(v.n), 0.0);
  if (v.h < 1 || v.d < 1)
    throw Error(cat(what, ": empty dimension in shape (", v.n, ", ", v.h, ", ", v.d, ")"));
  for (std::int64_t i = 0; i < v.n; ++i)
    for (std::int64_t hh = 0; hh < v.h; ++hh) {
      const float* row = v.at(i, hh);
      double s = 0;
      for (std::int64_t x = 0; x < v.d; ++x) {
        const double e = row[x];
        if (!std::isfinite(e)) throw Error(cat(what, ": element (", i, ", ", hh, ", ", x, ") is not finite"));
        s += e * e;
      }
      out[static_cast<std::size_t>(i)] += std::sqrt(s) / static_cast<double>(v.h);
    }
  return out;
}

}  // namespace diffuser::viz
