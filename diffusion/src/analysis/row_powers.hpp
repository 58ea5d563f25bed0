// Rows of A^k for up to 64 tokens at once: one float lane per token, pushed along the edges hop
// by hop over the tokens reached so far only. Shared by the diffusion mass and the mixing profile.
#pragma once

#include <cstdint>
#include <vector>

#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/tensor.hpp>

namespace diffuser::diffusion::detail {

inline constexpr int kLanes = 64;
struct alignas(64) RowLanes {
  float v[kLanes];
};

// The attention matrix A of one head: per-edge weights (E, H), or uniform 1/deg(i) when the view
// is empty. A row that carries no weight attends to itself.
struct RowWeights {
  RowWeights(const Csr& graph, MatrixView<const float> weights, int head);
  float at(std::int64_t row, std::int64_t edge) const {
    return w.data ? w.row(edge)[head] : inv_deg[static_cast<std::size_t>(row)];
  }
  CsrView g;
  MatrixView<const float> w;  // empty: uniform
  int head = 0;
  std::vector<float> inv_deg;  // uniform only
  std::vector<char> self;      // the row attends to itself only
};

// Lane b holds row b of A^k (k hops after start()). Reusable: clear() resets what was touched.
class RowPowers {
 public:
  // Lane b starts at token seeds[b] (row b of A^0 is the unit vector of that token).
  void start(std::int64_t n, const std::int64_t* seeds, int count);
  // rows <- rows A: each token's lanes spread over its sources.
  void step(const RowWeights& w);
  // Tokens where some lane may be nonzero, and their lanes.
  const std::vector<std::int32_t>& active() const { return active_; }
  const RowLanes& at(std::int64_t token) const { return cur_[static_cast<std::size_t>(token)]; }
  void clear();

 private:
  void touch(std::int32_t v);
  std::vector<RowLanes> cur_, next_;
  std::vector<char> flag_;
  std::vector<std::int32_t> active_, next_active_;
};

}  // namespace diffuser::diffusion::detail
