#include "reach_frontier.hpp"

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

}  // namespace diffuser::diffusion::detail
