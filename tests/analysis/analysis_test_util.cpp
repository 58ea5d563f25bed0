#include "analysis/analysis_test_util.hpp"

#include <deque>

#include <diffuser/engine/random.hpp>

namespace diffuser::test::analysis {

std::vector<std::vector<std::int32_t>> brute_distances(const Csr& g) {
  const std::int64_t n = g.num_nodes();
  std::vector<std::vector<std::int32_t>> d(static_cast<std::size_t>(n),
                                           std::vector<std::int32_t>(static_cast<std::size_t>(n), -1));
  for (std::int64_t s = 0; s < n; ++s) {
    auto& row = d[static_cast<std::size_t>(s)];
    std::deque<std::int64_t> q{s};
    row[static_cast<std::size_t>(s)] = 0;
    while (!q.empty()) {
      const std::int64_t v = q.front();
      q.pop_front();
      for (const std::int32_t u : g.neighbors(v))
        if (row[static_cast<std::size_t>(u)] < 0) {
          row[static_cast<std::size_t>(u)] = row[static_cast<std::size_t>(v)] + 1;
          q.push_back(u);
        }
    }
  }
  return d;
}

Csr random_graph(std::int64_t n, int k, std::uint64_t seed, bool self, int parts, int isolated) {
  EdgeList e;
  e.n = n;
  const std::int64_t part = (n + parts - 1) / parts;
  for (std::int64_t i = 0; i < n; ++i) {
    if (i < isolated) continue;
    const std::int64_t lo = (i / part) * part, hi = std::min(n, lo + part);
    for (int t = 0; t < k; ++t) {
      const auto j =
          lo + static_cast<std::int64_t>(rng::below(seed, 17, static_cast<std::uint64_t>(i * k + t),
                                                    static_cast<std::uint32_t>(hi - lo)));
      if (j < isolated || (j == i && !self)) continue;
      e.add(static_cast<std::int32_t>(j), static_cast<std::int32_t>(i));
    }
    if (self) e.add(static_cast<std::int32_t>(i), static_cast<std::int32_t>(i));
  }
  return Csr::from_edges(e);
}

}  // namespace diffuser::test::analysis
