// From a parsed term to its row generator: checks that need n, and the terms whose edges come
// from outside (file:, plugin:).
#include <algorithm>

#include <diffuser/engine/error.hpp>
#include <diffuser/graphs/formats.hpp>
#include <diffuser/graphs/plugin_loader.hpp>

#include "row_terms.hpp"

namespace diffuser::graphs::detail {

namespace {

// Rows of a graph given as edges: sorted and deduplicated once by Csr::from_edges.
class FromEdges final : public RowTerm {
 public:
  explicit FromEdges(const EdgeList& edges) : g_(Csr::from_edges(edges)) {}
  std::int64_t row_size(std::int64_t i) const override { return i < g_.num_nodes() ? g_.degree(i) : 0; }
  void fill_row(std::int64_t i, std::int32_t* out) const override {
    if (i >= g_.num_nodes()) return;
    const auto nb = g_.neighbors(i);
    std::copy(nb.begin(), nb.end(), out);
  }

 private:
  Csr g_;
};

}  // namespace

RowTermPtr make_from_edges(const EdgeList& edges) {
  return std::make_unique<FromEdges>(edges);
}

RowTermPtr make_row_term(std::string_view spec, const PatternTerm& t, std::int64_t n, std::uint64_t seed) {
  const auto& p = t.params;
  const auto& name = t.name;
  if (name == "window") return make_window(n, p[0]);
  if (name == "blocks") return make_blocks(n, p[0]);
  if (name == "dilated") return make_dilated(n, p[0], p[1]);
  if (name == "self") return make_self(n);
  if (name == "full") return make_full(spec, t, n);
  if (name == "random") return make_random(n, p[0], seed, t.stream);
  if (name == "block-random") return make_block_random(n, p[0], p[1], seed, t.stream);
  if (name == "bigbird") return make_bigbird(n, p[0], p[1], p[2], seed, t.stream);
  if (name == "global" || name == "global-random") {
    // More global tokens than tokens means "all of them": clamp rather than fail, so a recipe
    // such as diffuser (64 global tokens) also runs on short sequences.
    const std::int64_t g = std::min(p[0], n);
    std::vector<std::int32_t> pos;
    if (name == "global") {
      pos.resize(static_cast<std::size_t>(g));
      for (std::int64_t k = 0; k < g; ++k) pos[static_cast<std::size_t>(k)] = static_cast<std::int32_t>(k);
    } else {
      pos = random_positions(n, g, seed, t.stream);
    }
    return make_global(n, std::move(pos));
  }
  if (name == "global-at") {
    std::vector<std::int32_t> pos;
    for (const auto id : p) {
      if (id >= n)
        throw UsageError(cat("pattern '", excerpt(spec, 64), "': term '", excerpt(t.text, 48), "': position ",
                             id, " is outside [0, ", n, ") for ", n, " tokens"));
      pos.push_back(static_cast<std::int32_t>(id));
    }
    return make_global(n, std::move(pos));
  }
  if (name == "file") return make_from_edges(read_edges(t.path, n));
  if (name == "plugin") return make_from_edges(plugin_edges(t.path, t.args, n, seed));
  // parse_pattern only produces the names above.
  throw Error(cat("pattern '", spec, "': internal error: no builder for term '", t.text, "'"));
}

}  // namespace diffuser::graphs::detail
