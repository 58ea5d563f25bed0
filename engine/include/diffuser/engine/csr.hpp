// The token graph stored by destination: row i lists the sources j of the edges j -> i (token i
// attends to token j), so row i of the CSR is row i of the attention matrix A[i, j].
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/graph_plans.hpp>

namespace diffuser {

// Largest graph the int32 column ids can address.
inline constexpr std::int64_t kMaxNodes = 2147483647;

// What a kernel needs: raw pointers on one device, and where the graph's plans live (a Csr's own;
// null: each call plans afresh, see graph_plans.hpp).
struct CsrView {
  const std::int64_t* row_ptr = nullptr;  // N + 1 offsets into col
  const std::int32_t* col = nullptr;      // source id of each edge, sorted within a row
  std::int64_t n = 0;
  std::int64_t nnz = 0;
  Device device = Device::cpu;
  GraphPlans* plans = nullptr;
};

// An edge list (src[e] -> dst[e]) over nodes [0, n), in any order, duplicates allowed.
struct EdgeList {
  std::int64_t n = 0;
  std::vector<std::int32_t> src;
  std::vector<std::int32_t> dst;

  std::int64_t size() const { return static_cast<std::int64_t>(src.size()); }
  void add(std::int32_t s, std::int32_t d) {
    src.push_back(s);
    dst.push_back(d);
  }
  void append(const EdgeList& other);
};

class Csr {
 public:
  Csr() = default;

  // Builds the graph from edges: bucketed by destination, each row sorted, duplicates removed.
  // Throws Error naming the first edge whose endpoint is outside [0, n), or an n out of range, or
  // when the build would not fit the memory budget (build_bytes).
  static Csr from_edges(const EdgeList& edges);
  static Csr from_edges(std::int64_t n, std::span<const std::int32_t> src, std::span<const std::int32_t> dst);

  // Peak bytes from_edges allocates for n nodes and m edges (the edge list itself not counted):
  // three (n + 1) offset arrays and two column arrays. Floating point: absurd n must not overflow.
  static double build_bytes(std::int64_t n, std::int64_t m) {
    return 24.0 * (static_cast<double>(n) + 1) + 8.0 * static_cast<double>(m);
  }

  // Takes ready CSR arrays (host) and validates them (see validate()).
  static Csr from_arrays(std::int64_t n, std::vector<std::int64_t> row_ptr, std::vector<std::int32_t> col);

  // Adopts arrays that already form a valid CSR (row offsets from 0 to nnz, each row strictly
  // increasing) on any device, without checking them: for builders that guarantee it
  // (ops::csr_from_edges on the GPU). Untrusted host data goes through from_arrays.
  static Csr adopt(std::int64_t n, Buffer<std::int64_t> row_ptr, Buffer<std::int32_t> col) {
    return Csr(n, std::move(row_ptr), std::move(col));
  }

  std::int64_t num_nodes() const { return n_; }
  std::int64_t num_edges() const { return col_.size(); }
  Device device() const { return row_ptr_.device(); }
  const Buffer<std::int64_t>& row_ptr() const { return row_ptr_; }
  const Buffer<std::int32_t>& col() const { return col_; }
  CsrView view() const { return {row_ptr_.data(), col_.data(), n_, num_edges(), device(), plans_.get()}; }
  // The plans the primitives built for this graph (null for an empty default-constructed Csr).
  const GraphPlans* plans() const { return plans_.get(); }

  // Host-side accessors (the graph must be on the CPU).
  std::int64_t degree(std::int64_t i) const { return row_ptr_[i + 1] - row_ptr_[i]; }
  std::span<const std::int32_t> neighbors(std::int64_t i) const {
    return {col_.data() + row_ptr_[i], static_cast<std::size_t>(degree(i))};
  }
  bool has_edge(std::int32_t src, std::int32_t dst) const;

  // Throws Error unless: row_ptr starts at 0, is non-decreasing and ends at nnz; every col id is
  // in [0, n); each row is strictly increasing (sorted, no duplicates).
  void validate() const;

  // Copy on another device (graphs are built on the CPU and carried explicitly).
  Csr to(Device device) const;

  // The reverse graph (CSC of this one): row j lists the destinations i of edges j -> i.
  // edge_perm (optional) receives, for each edge of the result, its index in this graph.
  Csr transpose(std::vector<std::int64_t>* edge_perm = nullptr) const;

  // (src, dst) of every edge in CSR order.
  EdgeList edges() const;

  bool operator==(const Csr& o) const;

 private:
  Csr(std::int64_t n, Buffer<std::int64_t> row_ptr, Buffer<std::int32_t> col)
      : n_(n), row_ptr_(std::move(row_ptr)), col_(std::move(col)), plans_(std::make_unique<GraphPlans>()) {}
  std::int64_t n_ = 0;
  Buffer<std::int64_t> row_ptr_;
  Buffer<std::int32_t> col_;
  std::unique_ptr<GraphPlans> plans_;  // declared last: freed before the arrays it describes
};

}  // namespace diffuser
