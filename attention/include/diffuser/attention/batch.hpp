// A batch of token sequences as one graph: sequences of different lengths side by side as a
// block-diagonal union (no padding waste), or padded sequences with a padding mask.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/ops.hpp>
#include <diffuser/engine/ops_backward.hpp>

namespace diffuser::attention {

struct GraphBatch {
  Csr graph;                          // over all tokens of the batch, block-diagonal
  ReverseGraph reverse;               // for the backward passes
  Buffer<std::uint8_t> mask;          // (T,), nonzero = real token; empty = every token is real
  std::vector<std::int64_t> offsets;  // B + 1 token offsets: sequence b is [offsets[b], offsets[b+1])
  std::string description;

  std::int64_t tokens() const { return graph.num_nodes(); }
  Device device() const { return graph.device(); }
  std::int64_t sequences() const { return static_cast<std::int64_t>(offsets.size()) - 1; }
  ops::NodeMask node_mask() const {
    return mask.empty() ? ops::NodeMask{} : ops::NodeMask{mask.data(), mask.size(), mask.device()};
  }

  // Sequences of the given lengths, each with the graph `pattern` builds for its length (the same
  // seed for every sequence), placed block-diagonally. Throws Error for a length <= 0.
  static GraphBatch from_lengths(const std::vector<std::int64_t>& lengths, std::string_view pattern,
                                 std::uint64_t seed);
  // B sequences padded to N tokens; mask (B * N values, empty = all real) marks the real tokens.
  static GraphBatch padded(std::int64_t batch, std::int64_t n, std::string_view pattern, std::uint64_t seed,
                           const std::vector<std::uint8_t>& mask = {});
  // One sequence over a given graph.
  static GraphBatch from_graph(Csr g, const std::vector<std::uint8_t>& mask = {});

  // The same batch with the graph, reverse graph and mask on `device` (built once, outside any
  // timed region: the reverse graph is transposed on the CPU and carried).
  GraphBatch to(Device device) const;
};

// The block-diagonal union of graphs (node ids of part p shifted by the nodes before it).
Csr block_diagonal(const std::vector<const Csr*>& parts);

}  // namespace diffuser::attention
