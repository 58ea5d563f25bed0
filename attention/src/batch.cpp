// Block-diagonal batches: each distinct sequence length builds its graph once.
#include <map>

#include <diffuser/attention/batch.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/graphs/pattern.hpp>

namespace diffuser::attention {

Csr block_diagonal(const std::vector<const Csr*>& parts) {
  std::int64_t n = 0, nnz = 0;
  for (const Csr* p : parts) {
    n += p->num_nodes();
    nnz += p->num_edges();
  }
  DIFFUSER_CHECK(n <= kMaxNodes, "batch of ", n, " tokens exceeds the graph limit of ", kMaxNodes);
  std::vector<std::int64_t> row_ptr;
  row_ptr.reserve(static_cast<std::size_t>(n + 1));
  std::vector<std::int32_t> col;
  col.reserve(static_cast<std::size_t>(nnz));
  row_ptr.push_back(0);
  std::int64_t base = 0;
  for (const Csr* p : parts) {
    for (std::int64_t i = 0; i < p->num_nodes(); ++i) {
      for (auto j : p->neighbors(i)) col.push_back(static_cast<std::int32_t>(j + base));
      row_ptr.push_back(static_cast<std::int64_t>(col.size()));
    }
    base += p->num_nodes();
  }
  return Csr::from_arrays(n, std::move(row_ptr), std::move(col));
}

namespace {

void finish(GraphBatch& b, const std::vector<std::uint8_t>& mask) {
  if (!mask.empty()) {
    DIFFUSER_CHECK(static_cast<std::int64_t>(mask.size()) == b.graph.num_nodes(), "the padding mask has ",
                   mask.size(), " entries but the batch has ", b.graph.num_nodes(), " tokens");
    b.mask = Buffer<std::uint8_t>::from_host(mask);
  }
  b.reverse = ReverseGraph(b.graph);
}

}  // namespace

GraphBatch GraphBatch::from_lengths(const std::vector<std::int64_t>& lengths, std::string_view pattern,
                                    std::uint64_t seed) {
  DIFFUSER_CHECK(!lengths.empty(), "a batch needs at least one sequence");
  std::map<std::int64_t, Csr> by_length;
  GraphBatch b;
  b.offsets.push_back(0);
  for (auto len : lengths) {
    DIFFUSER_CHECK(len > 0, "sequence ", b.offsets.size() - 1, " has length ", len, " (lengths must be > 0)");
    if (!by_length.count(len)) by_length.emplace(len, graphs::build_pattern(pattern, len, seed));
    b.offsets.push_back(b.offsets.back() + len);
  }
  std::vector<const Csr*> parts;
  for (auto len : lengths) parts.push_back(&by_length.at(len));
  b.graph = lengths.size() == 1 ? std::move(by_length.begin()->second) : block_diagonal(parts);
  b.description = cat("pattern '", pattern, "' (seed ", seed, "), ", lengths.size(), " sequence",
                      lengths.size() == 1 ? "" : "s", ", ", b.offsets.back(), " tokens");
  finish(b, {});
  return b;
}

GraphBatch GraphBatch::padded(std::int64_t batch, std::int64_t n, std::string_view pattern,
                              std::uint64_t seed, const std::vector<std::uint8_t>& mask) {
  DIFFUSER_CHECK(batch > 0 && n > 0, "a padded batch needs B > 0 and N > 0, got (", batch, ", ", n, ")");
  GraphBatch b = from_lengths(std::vector<std::int64_t>(static_cast<std::size_t>(batch), n), pattern, seed);
  if (!mask.empty()) {
    DIFFUSER_CHECK(static_cast<std::int64_t>(mask.size()) == batch * n, "the padding mask has ", mask.size(),
                   " entries but the batch is ", batch, " x ", n);
    b.mask = Buffer<std::uint8_t>::from_host(mask);
  }
  return b;
}

GraphBatch GraphBatch::from_graph(Csr g, const std::vector<std::uint8_t>& mask) {
  GraphBatch b;
  b.offsets = {0, g.num_nodes()};
  b.graph = std::move(g);
  b.description = cat("graph of ", b.graph.num_nodes(), " tokens, ", b.graph.num_edges(), " edges");
  finish(b, mask);
  return b;
}

GraphBatch GraphBatch::to(Device device) const {
  GraphBatch b;
  b.graph = graph.to(device);
  b.reverse = ReverseGraph(b.graph);
  if (!mask.empty()) b.mask = mask.to(device);
  b.offsets = offsets;
  b.description = description;
  return b;
}

}  // namespace diffuser::attention
