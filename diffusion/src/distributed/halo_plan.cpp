// The halo plan: which rows each rank needs from the others (the sources of its edges that it does
// not own), found once per graph from the CSR; owners learn their send lists in one exchange.
#include <algorithm>

#include <diffuser/diffusion/distributed.hpp>
#include <diffuser/engine/error.hpp>

#include "rows.hpp"

namespace diffuser::diffusion::distributed {

HaloPlan::HaloPlan(Communicator& comm, const Split& tokens, std::span<const std::int64_t> row_ptr,
                   std::span<const std::int32_t> col) {
  build(comm, tokens, row_ptr, col);
}

HaloPlan::HaloPlan(Communicator& comm, const Split& tokens, const Csr& whole_graph) {
  DIFFUSER_CHECK(whole_graph.device() == Device::cpu, "HaloPlan: the graph must be on the CPU");
  DIFFUSER_CHECK(tokens.count() == whole_graph.num_nodes(), "HaloPlan: the token split covers ", tokens.count(),
                 " tokens but the graph has ", whole_graph.num_nodes(), " nodes");
  DIFFUSER_CHECK(tokens.parts() == comm.size(), "HaloPlan: the token split has ", tokens.parts(), " parts for ",
                 comm.size(), " ranks");
  const int me = comm.rank();
  const std::span<const std::int64_t> rp(whole_graph.row_ptr().data() + tokens.begin(me),
                                         static_cast<std::size_t>(tokens.size(me) + 1));
  build(comm, tokens, rp, {whole_graph.col().data(), static_cast<std::size_t>(whole_graph.num_edges())});
}

std::int64_t HaloPlan::rows_sent() const {
  std::int64_t n = 0;
  for (const auto& s : send_rows_) n += static_cast<std::int64_t>(s.size());
  return n;
}

void HaloPlan::build(Communicator& comm, const Split& tokens, std::span<const std::int64_t> row_ptr,
                     std::span<const std::int32_t> col) {
  const int P = comm.size(), me = comm.rank();
  DIFFUSER_CHECK(tokens.parts() == P, "HaloPlan: the token split has ", tokens.parts(), " parts for ", P, " ranks");
  // The lists travel as host arrays through the data path: CPU communicators only (for now).
  DIFFUSER_CHECK(comm.device() == Device::cpu, "token partitioning runs on CPU buffers (MPI) only");
  own_ = tokens.size(me);
  const std::int64_t first = tokens.begin(me), last = tokens.end(me);
  DIFFUSER_CHECK(static_cast<std::int64_t>(row_ptr.size()) == own_ + 1, "HaloPlan: rank ", me, " owns ", own_,
                 " rows but row_ptr has ", row_ptr.size(), " offsets");
  const std::int64_t base = row_ptr[0], edges = row_ptr[static_cast<std::size_t>(own_)] - base;

  // The sources this rank reads but does not own, sorted: grouped by owner, lower ranks first.
  std::vector<std::int32_t> needed;
  for (std::int64_t t = 0; t < edges; ++t) {
    const std::int32_t j = col[static_cast<std::size_t>(base + t)];
    DIFFUSER_CHECK(j >= 0 && j < tokens.count(), "HaloPlan: source ", j, " outside the ", tokens.count(), " tokens");
    if (j < first || j >= last) needed.push_back(j);
  }
  cut_edges_ = static_cast<std::int64_t>(needed.size());
  std::sort(needed.begin(), needed.end());
  needed.erase(std::unique(needed.begin(), needed.end()), needed.end());
  lo_ = std::lower_bound(needed.begin(), needed.end(), static_cast<std::int32_t>(first)) - needed.begin();

  // Per owner: where its rows land locally (in order, so each block is contiguous) and how many.
  recv_begin_.assign(static_cast<std::size_t>(P), 0);
  recv_rows_.assign(static_cast<std::size_t>(P), 0);
  std::vector<std::int64_t> first_index(static_cast<std::size_t>(P), 0);
  for (std::size_t idx = 0; idx < needed.size();) {
    const int p = tokens.owner(needed[idx]);
    std::size_t end = idx;
    while (end < needed.size() && needed[end] < tokens.end(p)) ++end;
    const auto i = static_cast<std::int64_t>(idx);
    first_index[static_cast<std::size_t>(p)] = i;
    recv_begin_[static_cast<std::size_t>(p)] = i < lo_ ? i : i + own_;
    recv_rows_[static_cast<std::size_t>(p)] = static_cast<std::int64_t>(end - idx);
    idx = end;
  }

  // Tell each owner how many rows, then which rows: its send list.
  std::vector<std::int64_t> send_count(static_cast<std::size_t>(P), 0);
  {
    std::vector<SendMessage> sends;
    std::vector<RecvMessage> recvs;
    for (int p = 0; p < P; ++p)
      if (p != me) {
        sends.push_back({p, &recv_rows_[static_cast<std::size_t>(p)], sizeof(std::int64_t)});
        recvs.push_back({p, &send_count[static_cast<std::size_t>(p)], sizeof(std::int64_t)});
      }
    comm.exchange(sends, recvs);
  }
  send_rows_.assign(static_cast<std::size_t>(P), {});
  {
    std::vector<SendMessage> sends;
    std::vector<RecvMessage> recvs;
    for (int p = 0; p < P; ++p) {
      const auto pi = static_cast<std::size_t>(p);
      send_rows_[pi].resize(static_cast<std::size_t>(send_count[pi]));
      if (recv_rows_[pi] > 0)
        sends.push_back({p, needed.data() + first_index[pi], recv_rows_[pi] * std::int64_t{sizeof(std::int32_t)}});
      if (send_count[pi] > 0)
        recvs.push_back({p, send_rows_[pi].data(), send_count[pi] * std::int64_t{sizeof(std::int32_t)}});
    }
    comm.exchange(sends, recvs);
  }
  for (auto& list : send_rows_)
    for (std::int32_t& j : list) {
      DIFFUSER_CHECK(j >= first && j < last, "HaloPlan: rank ", me, " was asked for row ", j, " it does not own");
      j = static_cast<std::int32_t>(j - first);
    }

  // The local graph: halo rows without edges around this rank's rows, sources renumbered.
  const std::int64_t n_local = own_ + static_cast<std::int64_t>(needed.size());
  std::vector<std::int64_t> rp(static_cast<std::size_t>(n_local + 1), 0);
  for (std::int64_t r = 0; r < own_; ++r)
    rp[static_cast<std::size_t>(lo_ + r + 1)] = row_ptr[static_cast<std::size_t>(r + 1)] - base;
  for (std::int64_t i = lo_ + own_ + 1; i <= n_local; ++i) rp[static_cast<std::size_t>(i)] = edges;
  std::vector<std::int32_t> cl(static_cast<std::size_t>(edges));
  for (std::int64_t t = 0; t < edges; ++t) {
    const std::int32_t j = col[static_cast<std::size_t>(base + t)];
    std::int64_t local;
    if (j >= first && j < last) {
      local = lo_ + (j - first);
    } else {
      const auto idx = std::lower_bound(needed.begin(), needed.end(), j) - needed.begin();
      local = idx < lo_ ? idx : idx + own_;
    }
    cl[static_cast<std::size_t>(t)] = static_cast<std::int32_t>(local);
  }
  local_ = Csr::from_arrays(n_local, std::move(rp), std::move(cl));

  // Interior rows (all sources own: computable before any halo arrives) and halo rows.
  interior_.assign(static_cast<std::size_t>(n_local), 0);
  halo_.assign(static_cast<std::size_t>(n_local), 1);
  interior_rows_ = 0;
  for (std::int64_t r = 0; r < own_; ++r) {
    bool inside = true;
    for (std::int64_t t = row_ptr[static_cast<std::size_t>(r)];
         t < row_ptr[static_cast<std::size_t>(r + 1)] && inside; ++t) {
      const std::int32_t j = col[static_cast<std::size_t>(t)];
      inside = j >= first && j < last;
    }
    interior_[static_cast<std::size_t>(lo_ + r)] = inside ? 1 : 0;
    halo_[static_cast<std::size_t>(lo_ + r)] = 0;
    interior_rows_ += inside ? 1 : 0;
  }
}

}  // namespace diffuser::diffusion::distributed
