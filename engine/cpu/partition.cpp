#include <algorithm>

#include <tbb/task_arena.h>

#include "partition.hpp"

namespace diffuser::cpu {

std::vector<std::int64_t> balanced_row_chunks(const CsrView& g, std::int64_t row_cost, std::int64_t target) {
  std::vector<std::int64_t> b{0};
  const std::int64_t n = g.n;
  if (n == 0) return b;
  target = std::max<std::int64_t>(target, 1);
  auto cost = [&](std::int64_t i) { return g.row_ptr[i] + i * row_cost; };  // work before row i
  std::int64_t i = 0;
  while (i < n) {
    // First row boundary whose prefix cost reaches cost(i) + target (at least one row).
    const std::int64_t want = cost(i) + target;
    std::int64_t lo = i + 1, hi = n;
    while (lo < hi) {
      const std::int64_t mid = lo + (hi - lo) / 2;
      if (cost(mid) >= want)
        hi = mid;
      else
        lo = mid + 1;
    }
    i = lo;
    b.push_back(i);
  }
  return b;
}

std::vector<std::int64_t> balanced_row_chunks(const CsrView& g, std::int64_t row_cost) {
  const std::int64_t total = g.nnz + g.n * row_cost;
  const std::int64_t threads = std::max(1, tbb::this_task_arena::max_concurrency());  // the context's arena
  // ~16 chunks per thread for load balance, but not smaller than ~2K edges of work each.
  const std::int64_t target = std::max<std::int64_t>(2048, total / (threads * 16));
  return balanced_row_chunks(g, row_cost, target);
}

}  // namespace diffuser::cpu
