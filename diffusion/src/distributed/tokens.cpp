// Token partitioning: each rank computes its own rows on its local graph (HaloPlan); before the
// scores it receives the K rows (and mask bytes) of its halo, before each hop the rows of the
// previous hop's output that its edges read. Overlapped, the rows that read no halo row (interior)
// are computed while those messages travel, the others after them.
#include <cmath>
#include <utility>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/diffusion/distributed.hpp>
#include <diffuser/engine/error.hpp>

#include "rows.hpp"
#include "stats_scope.hpp"

namespace diffuser::diffusion::distributed {

namespace {

constexpr std::int64_t kF = sizeof(float);

void check_rows(const Communicator& comm, const HaloPlan& plan, Tensor3View<const float> x, const char* name) {
  DIFFUSER_CHECK(x.n == plan.own_rows(), "distributed tokens: rank ", comm.rank(), " holds ", x.n, " rows of ", name,
                 " but owns ", plan.own_rows(), " tokens");
  DIFFUSER_CHECK(x.stride_h == x.d && x.stride_n == x.h * x.d, "distributed tokens: ", name,
                 " must be contiguous (N, H, D)");
  DIFFUSER_CHECK(x.device == comm.device(), "distributed tokens: ", name, " must be on the communicator's device");
}

// A local (local_nodes, H, D) tensor with this rank's rows in place and zero halo rows.
Tensor3<float> local_copy(const HaloPlan& plan, Tensor3View<const float> x, Device dev) {
  const std::int64_t nl = plan.local_nodes(), lo = plan.first_own(), own = plan.own_rows(), row = x.h * x.d;
  Tensor3<float> t(nl, x.h, x.d, dev);
  float* p = t.buffer().data();
  device_memset_zero(p, dev, static_cast<std::size_t>(lo * row * kF));
  device_memset_zero(p + (lo + own) * row, dev, static_cast<std::size_t>((nl - lo - own) * row * kF));
  copy_rows(p + lo * row, row * kF, x.data, x.stride_n * kF, own, row * kF, dev);
  return t;
}

}  // namespace

Tensor3<float> diffuse_tokens(Communicator& comm, const HaloPlan& plan, Tensor3View<const float> q,
                              Tensor3View<const float> k, Tensor3View<const float> v, ops::NodeMask mask,
                              const Coefficients& c, Stats* stats, Overlap overlap) {
  StatsScope scope(comm, stats);
  check_rows(comm, plan, q, "Q");
  check_rows(comm, plan, k, "K");
  check_rows(comm, plan, v, "V");
  DIFFUSER_CHECK(mask.empty() || mask.size == plan.own_rows(), "distributed tokens: rank ", comm.rank(),
                 " has a mask of ", mask.size, " tokens but owns ", plan.own_rows());
  require_same_on_all_ranks(comm, (q.h * 1000003 + q.d) * 2 + (mask.empty() ? 0 : 1),
                            "head count, head size and mask presence");
  const Device dev = comm.device();
  const Csr& g = plan.local_graph();
  const std::int64_t H = q.h, D = q.d, own = plan.own_rows(), lo = plan.first_own(), row = H * D;
  const HopPlan hops = hop_plan(c);
  const bool overlapped = overlap == Overlap::on;

  Tensor3<float> out(own, H, D, dev);
  if (hops.hops() == 0) {  // Z = theta_0 V: nothing to exchange
    ops::node_axpby(hops.v_scale, v, 0.0f, v, out.view());
    return out;
  }
  if (stats) {
    stats->hop_bytes_sent = plan.rows_sent() * row * kF;
    stats->hop_bytes_received = plan.halo_rows() * row * kF;
  }

  // Overlapped, V's halo travels during the scores too (it is needed from the first hop on).
  Tensor3<float> vl = local_copy(plan, v, dev);
  HaloTransfer v_halo;
  if (overlapped) v_halo = plan.start_exchange(comm, vl.buffer().data(), row * kF);

  // The weights of this rank's rows: K's halo rows (and the mask's) come from their owners.
  ops::EdgeWeights w(g.view(), H);
  {
    const Tensor3<float> ql = local_copy(plan, q, dev);
    Tensor3<float> kl = local_copy(plan, k, dev);
    HaloTransfer k_halo = plan.start_exchange(comm, kl.buffer().data(), row * kF);
    Buffer<std::uint8_t> ml;
    HaloTransfer m_halo;
    if (!mask.empty()) {
      ml = Buffer<std::uint8_t>(plan.local_nodes(), dev);
      ml.zero();
      device_copy(ml.data() + lo, dev, mask.data, mask.device, static_cast<std::size_t>(own));
      m_halo = plan.start_exchange(comm, ml.data(), 1);
    }
    const ops::NodeMask local_mask = mask.empty() ? ops::NodeMask{} : ops::NodeMask{ml.data(), ml.size(), dev};
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    if (overlapped)
      ops::edge_attention(g.view(), ql.view(), kl.view(), scale, local_mask, w, plan.interior_first(false));
    k_halo.finish();
    m_halo.finish();
    ops::edge_attention(g.view(), ql.view(), kl.view(), scale, local_mask, w,
                        overlapped ? plan.interior_first(true) : ops::RowPass{});
  }
  if (!overlapped) plan.exchange(comm, vl.buffer().data(), row * kF);

  // The hops, as diffuse_values: x_0 = V (its halo too), then each hop's output gets its halo. A hop's
  // interior rows need only own rows of its input: computed while the input's halo travels.
  Tensor3<float> ping(plan.local_nodes(), H, D, dev), pong;
  if (hops.hops() >= 2) pong = Tensor3<float>(plan.local_nodes(), H, D, dev);
  const ops::HopWeights hw = ops::prepare_hops(g.view(), w, vl.view());
  Tensor3View<const float> x = vl.view();
  Tensor3View<float> dst;
  HaloTransfer x_halo = std::move(v_halo);
  for (int h = 1; h <= hops.hops(); ++h) {
    dst = (h % 2 == 1) ? ping.view() : pong.view();
    const float a = hops.a[static_cast<std::size_t>(h - 1)], b = hops.b[static_cast<std::size_t>(h - 1)];
    const Tensor3View<const float> y = b == 0.0f ? Tensor3View<const float>{} : vl.view();
    if (overlapped) ops::gather_axpby(g.view(), hw, a, x, b, y, dst, plan.interior_first(false));
    x_halo.finish();
    ops::gather_axpby(g.view(), hw, a, x, b, y, dst, overlapped ? plan.interior_first(true) : ops::RowPass{});
    if (h < hops.hops()) {
      if (overlapped)
        x_halo = plan.start_exchange(comm, dst.data, row * kF);
      else
        plan.exchange(comm, dst.data, row * kF);
    }
    x = dst;
  }
  copy_rows(out.buffer().data(), row * kF, dst.data + lo * row, row * kF, own, row * kF, dev);
  return out;
}

}  // namespace diffuser::diffusion::distributed
