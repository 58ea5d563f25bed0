// The backward of token partitioning. Each rank recomputes its forward on its local graph (storing
// the hop inputs with their halo rows, which the weight gradient reads), then runs the hops
// backwards: the transposed gather A^T G writes gradient into halo rows too, which belongs to the
// rows' owners and goes back to them (HaloPlan::reduce); dK's halo rows likewise. Overlapped, the
// forward's exchanges travel while the interior rows are computed, and each backward hop computes
// its halo rows first and sends them while it computes its own rows.
#include <algorithm>
#include <cmath>
#include <utility>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/diffusion/distributed.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops_backward.hpp>

#include "rows.hpp"
#include "stats_scope.hpp"

namespace diffuser::diffusion::distributed {

namespace {

constexpr std::int64_t kF = sizeof(float);

Tensor3<float> local_rows(const HaloPlan& plan, Tensor3View<const float> x, const char* name) {
  DIFFUSER_CHECK(x.n == plan.own_rows() && x.stride_h == x.d && x.stride_n == x.h * x.d && x.device == Device::cpu,
                 "distributed tokens backward: ", name, " must be this rank's ", plan.own_rows(),
                 " rows, contiguous, on the CPU");
  const std::int64_t nl = plan.local_nodes(), lo = plan.first_own(), row = x.h * x.d;
  Tensor3<float> t(nl, x.h, x.d);
  t.buffer().zero();
  copy_rows(t.buffer().data() + lo * row, row * kF, x.data, row * kF, x.n, row * kF, Device::cpu);
  return t;
}

Tensor3<float> own_rows(const HaloPlan& plan, const Tensor3<float>& local) {
  const std::int64_t row = local.h() * local.d();
  Tensor3<float> t(plan.own_rows(), local.h(), local.d());
  copy_rows(t.buffer().data(), row * kF, local.buffer().data() + plan.first_own() * row, row * kF, plan.own_rows(),
            row * kF, Device::cpu);
  return t;
}

}  // namespace

Gradients diffuse_backward_tokens(Communicator& comm, const HaloPlan& plan, Tensor3View<const float> q,
                                  Tensor3View<const float> k, Tensor3View<const float> v, ops::NodeMask mask,
                                  const Coefficients& c, Tensor3View<const float> dz, Stats* stats,
                                  Overlap overlap) {
  StatsScope scope(comm, stats);
  DIFFUSER_CHECK(mask.empty() || mask.size == plan.own_rows(), "distributed tokens backward: rank ", comm.rank(),
                 " has a mask of ", mask.size, " tokens but owns ", plan.own_rows());
  require_same_on_all_ranks(comm, (q.h * 1000003 + q.d) * 2 + (mask.empty() ? 0 : 1),
                            "head count, head size and mask presence");
  const std::int64_t H = v.h, D = v.d, row = H * D, own = plan.own_rows();
  const HopPlan hops = hop_plan(c);
  const int K = hops.hops();
  const bool overlapped = overlap == Overlap::on;
  Gradients out{Tensor3<float>(own, H, D), Tensor3<float>(own, H, D), Tensor3<float>(own, H, D)};
  if (K == 0) {  // Z = theta_0 V
    ops::node_axpby(hops.v_scale, dz, 0.0f, dz, out.dv.view());
    out.dq.buffer().zero();
    out.dk.buffer().zero();
    return out;
  }
  const Csr& g = plan.local_graph();
  const ReverseGraph rg(g);
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  // Overlapped: the interior rows first while the halo travels, then the others (diffuse_tokens).
  const ops::RowPass interior = plan.interior_first(false),
                     rest = overlapped ? plan.interior_first(true) : ops::RowPass{};

  // The forward again: weights (K's and the mask's halo rows first), hop inputs with halos.
  Tensor3<float> ql = local_rows(plan, q, "Q"), kl = local_rows(plan, k, "K"), vl = local_rows(plan, v, "V");
  HaloTransfer x_halo;  // overlapped: V's halo, then each stored hop input's
  if (overlapped) x_halo = plan.start_exchange(comm, vl.buffer().data(), row * kF);
  HaloTransfer k_halo = plan.start_exchange(comm, kl.buffer().data(), row * kF), m_halo;
  Buffer<std::uint8_t> ml;
  if (!mask.empty()) {
    ml = Buffer<std::uint8_t>(plan.local_nodes());
    ml.zero();
    device_copy(ml.data() + plan.first_own(), Device::cpu, mask.data, mask.device, static_cast<std::size_t>(own));
    m_halo = plan.start_exchange(comm, ml.data(), 1);
  }
  const ops::NodeMask local_mask = mask.empty() ? ops::NodeMask{} : ops::NodeMask{ml.data(), ml.size()};
  Matrix<float> w(g.num_edges(), H);
  if (overlapped)
    ops::edge_attention(g.view(), ql.view(), kl.view(), scale, local_mask, w.view(),
                        ops::EdgeLayout::edge_major, interior);
  k_halo.finish();
  m_halo.finish();
  ops::edge_attention(g.view(), ql.view(), kl.view(), scale, local_mask, w.view(),
                      ops::EdgeLayout::edge_major, rest);
  if (!overlapped) plan.exchange(comm, vl.buffer().data(), row * kF);
  const ops::HopWeights hw = ops::prepare_hops(g.view(), w.view(), vl.view());
  std::vector<Tensor3<float>> xs;  // x_1 .. x_{K-1}
  xs.reserve(static_cast<std::size_t>(std::max(K - 1, 0)));
  for (int kk = 1; kk < K; ++kk) {
    xs.emplace_back(plan.local_nodes(), H, D);
    const Tensor3View<const float> prev = kk == 1 ? vl.view() : Tensor3View<const float>(xs[kk - 2].view());
    if (overlapped)
      ops::gather_axpby(g.view(), hw, hops.a[kk - 1], prev, hops.b[kk - 1], vl.view(), xs.back().view(),
                        interior);
    x_halo.finish();
    ops::gather_axpby(g.view(), hw, hops.a[kk - 1], prev, hops.b[kk - 1], vl.view(), xs.back().view(), rest);
    if (overlapped)
      x_halo = plan.start_exchange(comm, xs.back().buffer().data(), row * kF);
    else
      plan.exchange(comm, xs.back().buffer().data(), row * kF);
  }
  x_halo.finish();  // the last hop input's halo (or V's when K = 1): the backward reads it

  // The hops backwards: G_K = dZ; dV += b_k G_k; G_{k-1} = a_k A^T G_k (halo parts to their owners).
  Matrix<float> dw(g.num_edges(), H);
  dw.buffer().zero();
  Tensor3<float> G = local_rows(plan, dz, "dZ"), G_next(plan.local_nodes(), H, D);
  Tensor3<float> dvl(plan.local_nodes(), H, D);
  for (int kk = K; kk >= 1; --kk) {
    const Tensor3View<const float> x_in = kk > 1 ? Tensor3View<const float>(xs[kk - 2].view()) : vl.view();
    const float a = hops.a[kk - 1], b = hops.b[kk - 1];
    if (kk == K)
      ops::node_axpby(b, G.view(), 0.0f, G.view(), dvl.view());
    else if (b != 0.0f)
      ops::node_axpby(1.0f, dvl.view(), b, G.view(), dvl.view());
    if (overlapped) {  // halo rows first: their gradient travels to its owners while own rows are computed
      ops::hop_backward(rg.view(), w.view(), a, G.view(), x_in, 0.0f, {}, dw.view(), G_next.view(),
                        plan.halo_first(false));
      HaloTransfer sums = plan.start_reduce(comm, G_next.buffer().data(), row);
      ops::hop_backward(rg.view(), w.view(), a, G.view(), x_in, 0.0f, {}, dw.view(), G_next.view(),
                        plan.halo_first(true));
      sums.finish();
    } else {
      ops::hop_backward(rg.view(), w.view(), a, G.view(), x_in, 0.0f, {}, dw.view(), G_next.view());
      plan.reduce(comm, G_next.buffer().data(), row);
    }
    std::swap(G, G_next);
  }
  ops::node_axpby(1.0f, dvl.view(), 1.0f, G.view(), dvl.view());  // x_0 = V: dV += G_0

  // Softmax and scores: dQ of own rows, dK of every local column (halo parts to their owners).
  Tensor3<float> dql(plan.local_nodes(), H, D), dkl(plan.local_nodes(), H, D);
  ops::attention_backward(g.view(), rg.view(), ql.view(), kl.view(), scale, w.view(), dw.view(), dql.view(),
                          dkl.view());
  plan.reduce(comm, dkl.buffer().data(), row);
  out.dq = own_rows(plan, dql);
  out.dk = own_rows(plan, dkl);
  out.dv = own_rows(plan, dvl);
  return out;
}

}  // namespace diffuser::diffusion::distributed
