#include "reach_frontier.hpp"

#include <algorithm>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops_bits.hpp>

namespace diffuser::diffusion::detail {

void FrontierBlock::init(std::span<const std::int64_t> seeds, std::int64_t n) {
  seeds_ = static_cast<int>(seeds.size());
  reached_.assign(static_cast<std::size_t>(n), Lanes{});
  delta_.assign(static_cast<std::size_t>(n), Lanes{});
  frontier_.clear();
  full_ = Lanes{};
  for (int b = 0; b < seeds_; ++b) {
    const auto v = static_cast<std::size_t>(seeds[static_cast<std::size_t>(b)]);
    full_.set(b);
    if (!delta_[v].any()) frontier_.push_back(static_cast<std::int32_t>(v));
    reached_[v].set(b);
    delta_[v].set(b);
  }
}

void FrontierBlock::pull_pass(const CsrView& pull, FrontierScratch& s) const {
  constexpr std::int64_t kChunk = 16;  // neighbours between early-exit checks
  for (std::int64_t v = 0; v < pull.n; ++v) {
    const Lanes& r = reached_[static_cast<std::size_t>(v)];
    if (r.covers(full_)) continue;
    Lanes acc;
    std::int64_t e = pull.row_ptr[v];
    const std::int64_t end = pull.row_ptr[v + 1];
    while (e < end) {
      const std::int64_t stop = e + kChunk < end ? e + kChunk : end;
      for (; e < stop; ++e) acc |= delta_[static_cast<std::size_t>(pull.col[e])];
      if (acc.minus(r).covers(full_.minus(r))) break;  // every missing bit arrived
    }
    const Lanes nb = acc.minus(r);
    if (nb.any()) {
      s.next[static_cast<std::size_t>(v)] = nb;
      s.list.push_back(static_cast<std::int32_t>(v));
    }
  }
}

void FrontierBlock::push_pass(const CsrView& push, FrontierScratch& s) const {
  for (const std::int32_t u : frontier_) {
    const Lanes d = delta_[static_cast<std::size_t>(u)];
    for (std::int64_t e = push.row_ptr[u]; e < push.row_ptr[u + 1]; ++e) {
      const auto v = static_cast<std::size_t>(push.col[e]);
      const Lanes nb = d.minus(reached_[v]);
      if (!nb.any()) continue;
      Lanes& slot = s.next[v];
      if (!slot.any()) s.list.push_back(static_cast<std::int32_t>(v));
      slot |= nb;
    }
  }
}

namespace {

// Seeds bit (s - s0) of node s for s in [s0, s1), every other word zero; `bits` is zeroed first.
void seed_chunk(Buffer<std::uint64_t>& bits, std::int64_t words, std::int64_t s0, std::int64_t s1) {
  bits.zero();
  constexpr std::int64_t kRows = 4096;  // host staging, a slice of rows at a time
  std::vector<std::uint64_t> slice;
  for (std::int64_t r0 = s0; r0 < s1; r0 += kRows) {
    const std::int64_t r1 = std::min(s1, r0 + kRows);
    slice.assign(static_cast<std::size_t>((r1 - r0) * words), 0);
    for (std::int64_t s = r0; s < r1; ++s)
      slice[static_cast<std::size_t>((s - r0) * words + (s - s0) / 64)] = std::uint64_t{1} << ((s - s0) % 64);
    device_copy(bits.data() + r0 * words, bits.device(), slice.data(), Device::cpu,
                slice.size() * sizeof(std::uint64_t));
  }
}

}  // namespace

void reach_bitsets(const Csr& g, Device device, const ReachOptions& opt, const Stopwatch& clock,
                   std::vector<std::int32_t>& gained, std::vector<std::int64_t>& at_distance) {
  const std::int64_t n = g.num_nodes();
  const int K = opt.max_hops;
  const std::int64_t total_words = (n + 63) / 64;
  std::int64_t chunk_words =
      opt.chunk_sources > 0 ? (opt.chunk_sources + 63) / 64 : kReachBitsetBytes / (3 * n * std::int64_t{8});
  chunk_words = std::clamp<std::int64_t>(chunk_words, 1, total_words);
  const std::int64_t chunks = (total_words + chunk_words - 1) / chunk_words;
  chunk_words = (total_words + chunks - 1) / chunks;  // balanced: the last chunk is not a sliver
  const std::int64_t bitset = n * chunk_words;
  if (device == Device::cpu)
    require_memory(3 * bitset * static_cast<std::int64_t>(sizeof(std::uint64_t)),
                   cat("reach: three bitsets of ", chunk_words * 64, " sources over ", n, " tokens"));

  Csr moved;
  const Csr* on_device = &g;
  if (g.device() != device) {
    moved = g.to(device);
    on_device = &moved;
  }
  const CsrView gv = on_device->view();
  Buffer<std::uint64_t> frontier(bitset, device), next(bitset, device), visited(bitset, device);
  Buffer<std::int64_t> counts(n, device);
  std::vector<std::int64_t> host(static_cast<std::size_t>(n));
  std::int64_t sources_done = 0, pairs_done = 0;
  double last_report = clock.seconds();

  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::int64_t s0 = c * chunk_words * 64, s1 = std::min(n, s0 + chunk_words * 64);
    seed_chunk(frontier, chunk_words, s0, s1);
    device_copy(visited.data(), device, frontier.data(), device, visited.bytes());
    std::int64_t chunk_pairs = 0;
    for (int hop = 1;; ++hop) {
      ops::frontier_pull(gv, frontier.span(), next.span(), chunk_words);
      ops::frontier_advance(next.span(), visited.span(), frontier.span(), chunk_words, counts.span());
      device_copy(host.data(), Device::cpu, counts.data(), device, counts.bytes());
      std::int64_t total = 0;
      for (const std::int64_t x : host) total += x;
      if (total == 0) break;
      if (static_cast<int>(at_distance.size()) <= hop)
        at_distance.resize(static_cast<std::size_t>(hop) + 1, 0);
      at_distance[static_cast<std::size_t>(hop)] += total;
      if (hop <= K) {
        chunk_pairs += total;
        std::int32_t* row = gained.data() + static_cast<std::size_t>(hop - 1) * static_cast<std::size_t>(n);
        for (std::int64_t v = 0; v < n; ++v)
          row[v] += static_cast<std::int32_t>(host[static_cast<std::size_t>(v)]);
      }
      if (!opt.progress || (hop > K && clock.seconds() - last_report < 1.0)) continue;
      last_report = clock.seconds();
      ReachProgress p;
      p.hop = std::min(hop, K);
      p.saturating = hop > K;
      p.batch = c;
      p.batches = chunks;
      p.blocks = 1;
      p.seconds = last_report;
      p.coverage = static_cast<double>(pairs_done + chunk_pairs) /
                   (static_cast<double>(sources_done + s1 - s0) * static_cast<double>(n - 1));
      opt.progress(p);
    }
    sources_done += s1 - s0;
    pairs_done += chunk_pairs;
  }
}

}  // namespace diffuser::diffusion::detail
