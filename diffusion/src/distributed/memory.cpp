// The per-rank memory model of the two modes (docs/DISTRIBUTED.md), for budgets checked before the
// work: what each call allocates at its peak, buffer by buffer.
#include <algorithm>

#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/diffusion/distributed.hpp>

namespace diffuser::diffusion::distributed {

std::int64_t heads_rank_bytes(std::int64_t n, std::int64_t edges, std::int64_t heads, std::int64_t dim, int ranks,
                              int hops, bool backward) {
  const std::int64_t my_heads = (heads + ranks - 1) / ranks, own = (n + ranks - 1) / ranks;
  const std::int64_t whole = n * my_heads * dim * 4, rows = own * heads * dim * 4;
  // forward: weights; whole-sequence Q, K, V, Z and the hop scratch for my heads; packing + Z rows
  const std::int64_t forward = edges * my_heads * 4 + 5 * whole + 2 * rows;
  if (!backward) return forward;
  // backward: Q, K, V, dZ in and dQ, dK, dV out for my heads, the reverse graph, diffuse_backward's own
  // buffers, and packing + three gradient row blocks
  const std::int64_t reverse = (n + 1) * 8 + edges * 12;
  return 7 * whole + reverse + backward_bytes(n, edges, my_heads, dim, hops, HopMemory::store) + 4 * rows;
}

std::int64_t tokens_rank_bytes(const HaloPlan& plan, std::int64_t heads, std::int64_t dim, int hops, bool backward) {
  const std::int64_t nl = plan.local_nodes(), el = plan.local_graph().num_edges();
  const std::int64_t node = nl * heads * dim * 4, edge = el * heads * 4;
  // The packed halo rows sent: K's and V's are in flight together (Overlap::on).
  const std::int64_t packing = 2 * plan.rows_sent() * heads * dim * 4,
                     out = plan.own_rows() * heads * dim * 4;
  // forward: weights; local Q, K, V and the hop ping-pong; the packed halo rows; Z rows
  if (!backward) return edge + 5 * node + packing + out;
  // backward: the reverse graph, weights and their gradient; local Q, K, V, the hop inputs, the
  // gradient ping-pong, dV, dQ, dK; packing; three gradient row blocks
  const std::int64_t reverse = (nl + 1) * 8 + el * 12;
  return reverse + 2 * edge + (3 + std::max(hops - 1, 0) + 5) * node + packing + 3 * out;
}

}  // namespace diffuser::diffusion::distributed
