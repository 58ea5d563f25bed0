// Head sharding (DeepSpeed-Ulysses): the hops never mix heads, so after one all-to-all each rank
// holds whole sequences for its heads and runs the single-process code on them unchanged; a head's
// results do not depend on the other heads computed with it, so the result is bitwise the same.
#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/diffusion/distributed.hpp>
#include <diffuser/engine/error.hpp>

#include "rows.hpp"
#include "stats_scope.hpp"

namespace diffuser::diffusion::distributed {

namespace {

constexpr std::int64_t kF = sizeof(float);

void add_message(std::vector<SendMessage>& sends, int peer, const float* data, std::int64_t floats) {
  if (floats > 0) sends.push_back({peer, data, floats * kF});
}
void add_message(std::vector<RecvMessage>& recvs, int peer, float* data, std::int64_t floats) {
  if (floats > 0) recvs.push_back({peer, data, floats * kF});
}

// Checks every rank's inputs and that all ranks agree on the shapes; returns the split of heads.
Split check_heads(Communicator& comm, const Csr& g, const Split& tokens, Tensor3View<const float> x,
                  const char* name) {
  const int P = comm.size();
  DIFFUSER_CHECK(tokens.parts() == P, "distributed heads: the token split has ", tokens.parts(), " parts for ", P,
                 " ranks");
  DIFFUSER_CHECK(tokens.count() == g.num_nodes(), "distributed heads: the token split covers ", tokens.count(),
                 " tokens but the graph has ", g.num_nodes(), " nodes");
  DIFFUSER_CHECK(x.n == tokens.size(comm.rank()), "distributed heads: rank ", comm.rank(), " holds ", x.n,
                 " rows of ", name, " but owns ", tokens.size(comm.rank()), " tokens");
  DIFFUSER_CHECK(x.stride_h == x.d, "distributed heads: the heads of ", name, " must be contiguous (stride_h == D)");
  DIFFUSER_CHECK(x.device == comm.device() && g.device() == comm.device(), "distributed heads: ", name,
                 " and the graph must be on the communicator's device (", device_name(comm.device()), ")");
  require_same_on_all_ranks(comm, x.h * 1000003 + x.d, "head count and head size");
  if (P > x.h)  // every rank sees the same P and H: they all throw
    throw AgreedError(cat("head sharding needs at most H = ", x.h, " ranks, got ", P, " (use token partitioning)"), false);
  return Split::even(x.h, P);
}

// Sequence-sharded rows (this rank's tokens, all heads) -> head-sharded whole sequence (all tokens,
// this rank's heads).
Tensor3<float> rows_to_heads(Communicator& comm, const Split& tokens, const Split& heads,
                             Tensor3View<const float> x) {
  const int P = comm.size(), me = comm.rank();
  const Device dev = comm.device();
  const std::int64_t own = x.n, H = x.h, D = x.d, mine = heads.size(me);
  Buffer<float> packed(own * H * D, dev);  // per peer p: (own, heads of p, D)
  std::vector<SendMessage> sends;
  std::vector<RecvMessage> recvs;
  Tensor3<float> whole(tokens.count(), mine, D, dev);
  for (int p = 0; p < P; ++p) {
    float* block = packed.data() + own * heads.begin(p) * D;
    copy_rows(block, heads.size(p) * D * kF, x.at(0, heads.begin(p)), x.stride_n * kF, own, heads.size(p) * D * kF,
              dev);
    add_message(sends, p, block, own * heads.size(p) * D);
    add_message(recvs, p, whole.buffer().data() + tokens.begin(p) * mine * D, tokens.size(p) * mine * D);
  }
  comm.exchange(sends, recvs);
  return whole;
}

// The inverse: this rank's heads of the whole sequence -> this rank's rows with all heads.
Tensor3<float> heads_to_rows(Communicator& comm, const Split& tokens, const Split& heads,
                             const Tensor3<float>& whole) {
  const int P = comm.size(), me = comm.rank();
  const Device dev = comm.device();
  const std::int64_t own = tokens.size(me), H = heads.count(), D = whole.d(), mine = whole.h();
  Buffer<float> packed(own * H * D, dev);
  std::vector<SendMessage> sends;
  std::vector<RecvMessage> recvs;
  for (int p = 0; p < P; ++p) {
    add_message(sends, p, whole.buffer().data() + tokens.begin(p) * mine * D, tokens.size(p) * mine * D);
    add_message(recvs, p, packed.data() + own * heads.begin(p) * D, own * heads.size(p) * D);
  }
  comm.exchange(sends, recvs);
  Tensor3<float> out(own, H, D, dev);
  for (int p = 0; p < P; ++p)
    copy_rows(out.view().at(0, heads.begin(p)), H * D * kF, packed.data() + own * heads.begin(p) * D,
              heads.size(p) * D * kF, own, heads.size(p) * D * kF, dev);
  return out;
}

}  // namespace

Tensor3<float> diffuse_heads(Communicator& comm, const Csr& g, const Split& tokens, Tensor3View<const float> q,
                             Tensor3View<const float> k, Tensor3View<const float> v, ops::NodeMask mask,
                             const Coefficients& c, Stats* stats) {
  StatsScope scope(comm, stats);
  const Split heads = check_heads(comm, g, tokens, q, "Q");
  check_heads(comm, g, tokens, k, "K");
  check_heads(comm, g, tokens, v, "V");
  Tensor3<float> z;
  {
    const Tensor3<float> qw = rows_to_heads(comm, tokens, heads, q);
    const Tensor3<float> kw = rows_to_heads(comm, tokens, heads, k);
    const Tensor3<float> vw = rows_to_heads(comm, tokens, heads, v);
    z = diffuse(g, qw.view(), kw.view(), vw.view(), c, mask);
  }
  return heads_to_rows(comm, tokens, heads, z);
}

Gradients diffuse_backward_heads(Communicator& comm, const Csr& g, const Split& tokens,
                                 Tensor3View<const float> q, Tensor3View<const float> k,
                                 Tensor3View<const float> v, ops::NodeMask mask, const Coefficients& c,
                                 Tensor3View<const float> dz, Stats* stats) {
  StatsScope scope(comm, stats);
  const Split heads = check_heads(comm, g, tokens, q, "Q");
  check_heads(comm, g, tokens, k, "K");
  check_heads(comm, g, tokens, v, "V");
  check_heads(comm, g, tokens, dz, "dZ");
  const Tensor3<float> qw = rows_to_heads(comm, tokens, heads, q);
  const Tensor3<float> kw = rows_to_heads(comm, tokens, heads, k);
  const Tensor3<float> vw = rows_to_heads(comm, tokens, heads, v);
  const Tensor3<float> dzw = rows_to_heads(comm, tokens, heads, dz);
  const std::int64_t n = g.num_nodes(), mine = qw.h(), D = qw.d();
  Tensor3<float> dq(n, mine, D, comm.device()), dk(n, mine, D, comm.device()), dv(n, mine, D, comm.device());
  const ReverseGraph rg(g);
  diffuse_backward(g, rg, qw.view(), kw.view(), vw.view(), mask, c, dzw.view(), dq.view(), dk.view(), dv.view());
  return {heads_to_rows(comm, tokens, heads, dq), heads_to_rows(comm, tokens, heads, dk),
          heads_to_rows(comm, tokens, heads, dv)};
}

}  // namespace diffuser::diffusion::distributed
