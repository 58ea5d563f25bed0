// Bit-parallel multi-source frontiers for reachability: 256 sources per block, one bit each, so a
// hop over the graph advances 256 breadth-first searches at once (the CPU's blocks below); and the
// same search over all sources of a chunk at once with the engine's bitset primitives (the GPU).
#pragma once

#include <bit>
#include <cstdint>
#include <span>
#include <vector>

#include <diffuser/diffusion/reach.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/sys.hpp>

namespace diffuser::diffusion::detail {

// Exact reachability with ops::frontier_pull / frontier_advance on `device` (bits are sources j,
// nodes receivers i): sources in chunks of 64 * words bits, every chunk hop by hop until no node
// gains a bit; after each hop the per-node counts of new bits come back to the host. Adds the new
// sources of receiver v at hop k <= K to gained[(k - 1) * n + v] (size n * K) and the new pairs at
// hop d to at_distance[d] (grown as needed).
void reach_bitsets(const Csr& g, Device device, const ReachOptions& opt, const Stopwatch& clock,
                   std::vector<std::int32_t>& gained, std::vector<std::int64_t>& at_distance);

inline constexpr int kLanes = 4;  // 4 x 64 bits = 256 sources per block
inline constexpr int kBlockBits = 64 * kLanes;

struct Lanes {
  std::uint64_t w[kLanes] = {};

  bool any() const {
    std::uint64_t a = 0;
    for (int l = 0; l < kLanes; ++l) a |= w[l];
    return a != 0;
  }
  int popcount() const {
    int c = 0;
    for (int l = 0; l < kLanes; ++l) c += std::popcount(w[l]);
    return c;
  }
  void operator|=(const Lanes& o) {
    for (int l = 0; l < kLanes; ++l) w[l] |= o.w[l];
  }
  // this & ~mask
  Lanes minus(const Lanes& mask) const {
    Lanes r;
    for (int l = 0; l < kLanes; ++l) r.w[l] = w[l] & ~mask.w[l];
    return r;
  }
  bool covers(const Lanes& mask) const {  // every bit of mask is set here
    std::uint64_t miss = 0;
    for (int l = 0; l < kLanes; ++l) miss |= mask.w[l] & ~w[l];
    return miss == 0;
  }
  void set(int bit) { w[bit >> 6] |= std::uint64_t{1} << (bit & 63); }
  bool test(int bit) const { return (w[bit >> 6] >> (bit & 63)) & 1u; }
  // Calls f(bit) for every set bit, ascending.
  template <class F>
  void for_each_bit(F&& f) const {
    for (int l = 0; l < kLanes; ++l)
      for (std::uint64_t x = w[l]; x; x &= x - 1) f(l * 64 + std::countr_zero(x));
  }
};

// Per-thread scratch: a node array that is all zero between hops, and a list.
struct FrontierScratch {
  std::vector<Lanes> next;
  std::vector<std::int32_t> list;
  void ensure(std::int64_t n) {
    if (static_cast<std::int64_t>(next.size()) != n) next.assign(static_cast<std::size_t>(n), Lanes{});
  }
};

// Up to 256 seeds s_b. After hop k, bit b of reached(v) says that v lies within k hops of s_b along
// the propagation direction: v gets s_b's bit when some u in pull-row(v) had it. With pull = the
// token graph itself (row i = the sources of i) bit b at i means "i receives from s_b"; with the
// transpose it means "s_b receives from v".
class FrontierBlock {
 public:
  FrontierBlock() = default;
  void init(std::span<const std::int64_t> seeds, std::int64_t n);

  // One hop. pull and push are the propagation graph and its transpose. Calls on_new(v, bits)
  // for every node that gained bits (bits = the new ones), then returns the number of new bits.
  template <class OnNew>
  std::int64_t hop(const CsrView& pull, const CsrView& push, FrontierScratch& s, OnNew&& on_new);

  bool done() const { return frontier_.empty(); }
  int seeds() const { return seeds_; }
  const Lanes& full() const { return full_; }
  const Lanes& reached(std::int64_t v) const { return reached_[static_cast<std::size_t>(v)]; }
  void release() {
    std::vector<Lanes>().swap(reached_);
    std::vector<Lanes>().swap(delta_);
    std::vector<std::int32_t>().swap(frontier_);
  }

 private:
  void pull_pass(const CsrView& pull, FrontierScratch& s) const;
  void push_pass(const CsrView& push, FrontierScratch& s) const;
  std::vector<Lanes> reached_, delta_;  // delta_: bits new at the last hop (zero off the frontier)
  std::vector<std::int32_t> frontier_;  // nodes with a nonzero delta_
  Lanes full_;
  int seeds_ = 0;
};

template <class OnNew>
std::int64_t FrontierBlock::hop(const CsrView& pull, const CsrView& push, FrontierScratch& s,
                                OnNew&& on_new) {
  s.ensure(pull.n);
  s.list.clear();
  // Push costs the out-degrees of the frontier (scattered writes); pull costs up to every edge
  // (sequential reads, early exit once a row holds every bit). Push wins on thin frontiers.
  std::int64_t push_cost = 0;
  for (const std::int32_t u : frontier_) push_cost += push.row_ptr[u + 1] - push.row_ptr[u];
  if (push_cost * 4 < pull.nnz) {
    push_pass(push, s);
  } else {
    pull_pass(pull, s);
  }
  for (const std::int32_t u : frontier_) delta_[static_cast<std::size_t>(u)] = Lanes{};
  std::int64_t gained = 0;
  for (const std::int32_t v : s.list) {
    const Lanes& nb = s.next[static_cast<std::size_t>(v)];
    reached_[static_cast<std::size_t>(v)] |= nb;
    gained += nb.popcount();
    on_new(v, nb);
  }
  delta_.swap(s.next);  // delta_ now holds the new bits; s.next the cleared old delta (all zero)
  frontier_.swap(s.list);
  return gained;
}

}  // namespace diffuser::diffusion::detail
