// Sequence-parallel attention diffusion over the ranks of a Communicator (docs/DISTRIBUTED.md).
// Tokens are split into P contiguous ranges; each rank passes its own rows of Q, K, V (and of dZ)
// and receives its own rows of Z (and of dQ, dK, dV). Two modes:
//   heads:  one all-to-all turns the sequence-sharded Q, K, V into head-sharded full sequences, the
//           whole forward (or backward) runs locally on the whole graph for this rank's heads, one
//           all-to-all turns the result back. Bitwise equal to one process. Needs P <= H.
//   tokens: each rank owns its rows of the graph and, per hop, receives from the other ranks only
//           the rows its edges read (a HaloPlan, built once per graph). Within ~1e-7 relative of
//           one process (the kernels' row chunks and hub rows fall differently, and gradients
//           from other ranks are added in another order).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <diffuser/diffusion/coefficients.hpp>
#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/communicator.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/ops.hpp>

namespace diffuser::diffusion::distributed {

// Contiguous ranges of `count` items (tokens or heads) over P parts: part p holds
// [begin(p), end(p)). Parts may be empty.
class Split {
 public:
  Split() = default;
  // As even as possible: the first count % P parts hold one item more.
  static Split even(std::int64_t count, int parts);
  // Given sizes (>= 0), in rank order.
  static Split from_sizes(std::span<const std::int64_t> sizes);

  int parts() const { return static_cast<int>(offsets_.size()) - 1; }
  std::int64_t count() const { return offsets_.back(); }
  std::int64_t begin(int p) const { return offsets_[p]; }
  std::int64_t end(int p) const { return offsets_[p + 1]; }
  std::int64_t size(int p) const { return end(p) - begin(p); }
  // The part that holds item i (the last non-empty part whose begin is <= i).
  int owner(std::int64_t i) const;

 private:
  std::vector<std::int64_t> offsets_{0};
};

// What one rank spent and moved in one distributed call.
struct Stats {
  double total_ms = 0;     // the whole call on this rank
  double comm_ms = 0;      // inside the communicator's data operations (compute = total - comm);
                           // overlapped: starting and finishing exchanges, not their travel
  std::int64_t bytes_sent = 0, bytes_received = 0;  // to and from other ranks
  // tokens mode: the halo exchange of one hop (every hop moves the same rows).
  std::int64_t hop_bytes_sent = 0, hop_bytes_received = 0;
  double compute_ms() const { return total_ms - comm_ms; }
};

// ---- head sharding (forward and backward) -------------------------------------------------------

// Bytes one rank allocates at its peak in diffuse_heads (backward: diffuse_backward_heads), the
// model of docs/DISTRIBUTED.md: not counting the caller's inputs or its copy of the whole graph.
std::int64_t heads_rank_bytes(std::int64_t n, std::int64_t edges, std::int64_t heads, std::int64_t dim, int ranks,
                              int hops, bool backward);

// Z rows of this rank, (tokens.size(rank), H, D) on comm.device(). g: the whole graph, on every
// rank, on comm.device(); q, k, v: this rank's rows (heads contiguous: stride_h == D); mask: the
// whole sequence's (N bytes) or empty. Every rank must pass the same g, tokens, c, mask and H, D.
Tensor3<float> diffuse_heads(Communicator& comm, const Csr& g, const Split& tokens, Tensor3View<const float> q,
                             Tensor3View<const float> k, Tensor3View<const float> v, ops::NodeMask mask,
                             const Coefficients& c, Stats* stats = nullptr);

// dQ, dK, dV rows of this rank from its rows of dZ (as diffuse_backward, without dropout).
struct Gradients {
  Tensor3<float> dq, dk, dv;
};
Gradients diffuse_backward_heads(Communicator& comm, const Csr& g, const Split& tokens,
                                 Tensor3View<const float> q, Tensor3View<const float> k,
                                 Tensor3View<const float> v, ops::NodeMask mask, const Coefficients& c,
                                 Tensor3View<const float> dz, Stats* stats = nullptr);

// ---- token partitioning with halo exchange (forward and backward) -------------------------------

class HaloPlan;

// A halo exchange or reduce in flight (HaloPlan::start_exchange, start_reduce): finish() completes
// it. Destroying one unfinished waits for its messages (and adds nothing). Move-only.
class HaloTransfer {
 public:
  HaloTransfer() = default;
  HaloTransfer(HaloTransfer&& other) noexcept;
  HaloTransfer& operator=(HaloTransfer&& other) noexcept;  // waits for this one's messages first
  void finish();

 private:
  friend class HaloPlan;
  Buffer<char> buffer_;             // the packed rows sent (exchange) or the rows received (reduce)
  PendingExchange messages_;        // after buffer_: destroyed (waited for) before it is freed
  const HaloPlan* plan_ = nullptr;  // reduce: its send lists say which own rows receive the sums
  float* reduce_into_ = nullptr;
  std::int64_t row_floats_ = 0;
};

// Whether diffuse_tokens and diffuse_backward_tokens overlap the halo exchanges with the work that
// does not need them (on), or exchange first and then compute (off: the earlier, blocking order).
// Both give the same result bit for bit: only the order in which rows are computed changes.
enum class Overlap { off, on };

// This rank's rows of the graph renumbered for local work, and which rows it exchanges with whom.
// Local node ids keep the global order: [halo rows of lower ranks | own rows | halo rows of higher
// ranks], so each row's sources stay sorted and each peer's halo rows are one contiguous block
// (received in place). Halo rows have no edges of their own.
class HaloPlan {
 public:
  // Collective. row_ptr: this rank's tokens.size(rank) + 1 offsets into col (they may start
  // anywhere: a slice of the whole graph's row_ptr); col: global source ids.
  HaloPlan(Communicator& comm, const Split& tokens, std::span<const std::int64_t> row_ptr,
           std::span<const std::int32_t> col);
  // This rank's rows taken from the whole graph (on the CPU).
  HaloPlan(Communicator& comm, const Split& tokens, const Csr& whole_graph);

  const Csr& local_graph() const { return local_; }
  std::int64_t own_rows() const { return own_; }
  std::int64_t first_own() const { return lo_; }  // local id of the first own row
  std::int64_t local_nodes() const { return local_.num_nodes(); }
  std::int64_t halo_rows() const { return local_nodes() - own_; }
  // Rows this rank sends to others per exchange (with repetition over peers).
  std::int64_t rows_sent() const;
  // Edges of this rank's rows whose source another rank owns (the rank's share of the graph cut).
  std::int64_t cut_edges() const { return cut_edges_; }
  // Own rows whose sources are all own rows (rows without edges included): they can be computed
  // before the halo arrives. The other own rows are the boundary.
  std::int64_t interior_rows() const { return interior_rows_; }
  // The two passes of a hop overlapped with its halo exchange (ops::RowPass over the local graph's
  // rows): first the interior rows, then the boundary and halo rows.
  ops::RowPass interior_first(bool second) const {
    return {{interior_.data(), static_cast<std::int64_t>(interior_.size())}, second};
  }
  // The two passes of a backward hop overlapped with its reduce (over the reverse graph's rows, the
  // same local ids): first the halo rows, whose gradient goes to their owners, then the own rows.
  ops::RowPass halo_first(bool second) const {
    return {{halo_.data(), static_cast<std::int64_t>(halo_.size())}, second};
  }

  // Fills the halo rows of `local` (local_nodes() rows of row_bytes bytes each, on comm.device())
  // from their owners' own rows. Collective.
  void exchange(Communicator& comm, void* local, std::int64_t row_bytes) const;
  // The transpose of exchange() for gradients: adds the halo rows of `local` (local_nodes() rows of
  // row_floats floats) into their owners' rows (peers in rank order). Halo rows are left as they
  // were. Collective; CPU buffers.
  void reduce(Communicator& comm, float* local, std::int64_t row_floats) const;

  // exchange() in two steps: packs and posts the messages; the halo rows are filled once finish()
  // returns. Meanwhile `local`'s halo rows must not be read (its own rows may be). Collective.
  HaloTransfer start_exchange(Communicator& comm, void* local, std::int64_t row_bytes) const;
  // reduce() in two steps: sends the halo rows of `local` at once (they must not change until
  // finish()); finish() waits and adds the rows received into the own rows, peers in rank order, so
  // the own rows may still be computed meanwhile and the sums are reduce()'s. Collective; CPU.
  HaloTransfer start_reduce(Communicator& comm, float* local, std::int64_t row_floats) const;

 private:
  friend class HaloTransfer;
  void build(Communicator& comm, const Split& tokens, std::span<const std::int64_t> row_ptr,
             std::span<const std::int32_t> col);
  // Adds rows received by a reduce (packed per peer in rank order) into the own rows of `local`.
  void add_received(const float* received, float* local, std::int64_t row_floats) const;
  Csr local_;
  std::int64_t own_ = 0, lo_ = 0, cut_edges_ = 0, interior_rows_ = 0;
  std::vector<std::uint8_t> interior_, halo_;           // per local row: 1 if interior, 1 if halo
  std::vector<std::int64_t> recv_begin_, recv_rows_;    // per peer: first local halo row, count
  std::vector<std::vector<std::int32_t>> send_rows_;    // per peer: own-relative rows to send
};

// Bytes this rank allocates at its peak in diffuse_tokens (backward: diffuse_backward_tokens), not
// counting the caller's inputs and the plan.
std::int64_t tokens_rank_bytes(const HaloPlan& plan, std::int64_t heads, std::int64_t dim, int hops, bool backward);

// Z rows of this rank (plan.own_rows(), H, D) on comm.device(). q, k, v: this rank's rows; mask:
// this rank's rows (own_rows() bytes) or empty on every rank. Collective.
// With Overlap::on, the K, mask and V halos travel while the interior rows' scores are computed,
// and every hop's halo while its interior rows are.
Tensor3<float> diffuse_tokens(Communicator& comm, const HaloPlan& plan, Tensor3View<const float> q,
                              Tensor3View<const float> k, Tensor3View<const float> v, ops::NodeMask mask,
                              const Coefficients& c, Stats* stats = nullptr, Overlap overlap = Overlap::on);

// dQ, dK, dV rows of this rank from its rows of dZ (as diffuse_backward, without dropout): the
// forward is recomputed with its halo exchanges (hop inputs stored), then per hop the gradient
// flowing to other ranks' rows goes back to them (reduce), and so do dK's halo rows. Collective.
// With Overlap::on, the forward's exchanges overlap as in diffuse_tokens, and each backward hop
// computes its halo rows first and sends them while it computes its own rows.
Gradients diffuse_backward_tokens(Communicator& comm, const HaloPlan& plan, Tensor3View<const float> q,
                                  Tensor3View<const float> k, Tensor3View<const float> v, ops::NodeMask mask,
                                  const Coefficients& c, Tensor3View<const float> dz, Stats* stats = nullptr,
                                  Overlap overlap = Overlap::on);

}  // namespace diffuser::diffusion::distributed
