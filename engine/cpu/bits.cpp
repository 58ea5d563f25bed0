// The bitset primitives of multi-source BFS on the CPU: TBB over rows, the words of a node in the
// inner loop (contiguous, vectorized). The tuned CPU reachability path is diffusion's own
// frontier blocks (push on thin frontiers, early exit); these are the plain forms.
#include "isa_begin.hpp"  // first: the shared headers, then the level's target

#include "kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

void Kernels::frontier_pull(const CsrView& g, const std::uint64_t* frontier, std::uint64_t* next,
                            std::int64_t words) {
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, g.n, 16), [&](const auto& r) {
    for (std::int64_t i = r.begin(); i < r.end(); ++i) {
      std::uint64_t* out = next + i * words;
      for (std::int64_t w = 0; w < words; ++w) out[w] = 0;
      for (std::int64_t e = g.row_ptr[i]; e < g.row_ptr[i + 1]; ++e) {
        const std::uint64_t* in = frontier + static_cast<std::int64_t>(g.col[e]) * words;
        for (std::int64_t w = 0; w < words; ++w) out[w] |= in[w];
      }
    }
  });
}

void Kernels::frontier_advance(const std::uint64_t* next, std::uint64_t* visited, std::uint64_t* frontier,
                               std::int64_t words, std::int64_t n, std::int64_t* new_counts) {
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, 64), [&](const auto& r) {
    for (std::int64_t i = r.begin(); i < r.end(); ++i) {
      std::int64_t count = 0;
      for (std::int64_t w = i * words; w < (i + 1) * words; ++w) {
        const std::uint64_t fresh = next[w] & ~visited[w];
        visited[w] |= fresh;
        frontier[w] = fresh;
        count += std::popcount(fresh);
      }
      new_counts[i] = count;
    }
  });
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "isa_end.hpp"
