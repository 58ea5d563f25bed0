// .npy edge arrays: shape (E, 2), integer dtype (<i4 or <i8), one (src, dst) row per edge.
// The array does not record the node count: readers take it from the caller or the largest id.
#include <diffuser/engine/npy.hpp>

#include "format_io.hpp"

namespace diffuser::graphs::detail {

namespace {

void check_edge_header(const npy::Header& h, const std::string& name) {
  if (h.dtype != npy::DType::i4 && h.dtype != npy::DType::i8)
    throw Error(cat(name, ": expected an (E, 2) array of <i4 or <i8 (src, dst) rows, got dtype ",
                    npy::dtype_descr(h.dtype), " shape ", h.shape_string()));
  if (h.shape.size() != 2 || h.shape[1] != 2)
    throw Error(cat(name, ": expected an (E, 2) array of (src, dst) rows, got shape ", h.shape_string()));
}

EdgeList edges_from_values(const std::vector<std::int64_t>& values, const std::string& name, MaybeN n) {
  const auto count = static_cast<std::int64_t>(values.size() / 2);
  EdgeList edges;
  edges.src.resize(static_cast<std::size_t>(count));
  edges.dst.resize(static_cast<std::size_t>(count));
  std::int64_t max_id = -1;
  for (std::int64_t e = 0; e < count; ++e) {
    for (int k = 0; k < 2; ++k) {
      const std::int64_t id = values[static_cast<std::size_t>(2 * e + k)];
      // Rows are the npy analogue of lines: name the row (0-based, as numpy indexes it).
      if (id < 0 || id >= (n ? *n : kMaxNodes))
        throw Error(cat(name, ": row ", e, ": ", k == 0 ? "src" : "dst", " id ", id, " is outside [0, ",
                        n ? *n : kMaxNodes, ")"));
      max_id = std::max(max_id, id);
    }
    edges.src[static_cast<std::size_t>(e)] =
        static_cast<std::int32_t>(values[static_cast<std::size_t>(2 * e)]);
    edges.dst[static_cast<std::size_t>(e)] =
        static_cast<std::int32_t>(values[static_cast<std::size_t>(2 * e + 1)]);
  }
  edges.n = resolve_node_count(name, n, std::nullopt, max_id);
  return edges;
}

}  // namespace

EdgeList read_npy_edges(const std::filesystem::path& path, MaybeN n) {
  const std::string name = path.string();
  check_edge_header(npy::read_header(path), name);
  return edges_from_values(npy::load_i64(path), name, n);
}

EdgeList parse_npy_edges(std::string_view bytes, const std::string& name, MaybeN n) {
  check_edge_header(npy::parse_header(bytes, name), name);
  return edges_from_values(npy::decode_i64(bytes, name), name, n);
}

void write_npy_edges(const Csr& g, const std::filesystem::path& path) {
  std::vector<std::int32_t> pairs(static_cast<std::size_t>(2 * g.num_edges()));
  std::size_t at = 0;
  for (std::int64_t i = 0; i < g.num_nodes(); ++i)
    for (const auto j : g.neighbors(i)) {
      pairs[at++] = j;
      pairs[at++] = static_cast<std::int32_t>(i);
    }
  npy::save(path, pairs.data(), {g.num_edges(), 2});
}

}  // namespace diffuser::graphs::detail
