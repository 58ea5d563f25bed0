// Token partitioning with the halo exchanges overlapped (Overlap::on) against the blocking order
// (Overlap::off: bit for bit, only the order in which rows are computed changes) and against one
// process (Z within 1e-6, gradients within 5e-6), forward and backward: graphs where every row, no
// row and some rows are boundary rows, panels and hub rows, a padding mask, a rank without rows.
// Run by mpirun with 2 and 3 ranks (diffuser_mpi_tests).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/diffusion/distributed.hpp>
#include <diffuser/engine/communicator.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "rank_tensors.hpp"

using namespace diffuser;
using diffusion::Coefficients;
namespace dist = diffusion::distributed;

namespace {

using test::rows_of;

// The seed of every input tensor (test::same_on_every_rank).
constexpr std::uint64_t kSeed = 7;

constexpr double kForwardTolerance = 1e-6, kGradientTolerance = 5e-6;

bool same_bits(const Tensor3<float>& a, const Tensor3<float>& b) {
  return a.buffer().size() == b.buffer().size() &&
         std::memcmp(a.buffer().data(), b.buffer().data(), static_cast<std::size_t>(a.buffer().bytes())) == 0;
}

// max |got - whole[begin..]| / max |whole|.
double rel_error(const Tensor3<float>& got, const Tensor3<float>& whole, std::int64_t begin) {
  double worst = 0, scale = 0;
  for (std::int64_t i = 0; i < whole.buffer().size(); ++i)
    scale = std::max(scale, std::fabs(double(whole.buffer()[i])));
  const float* ref = whole.buffer().data() + begin * whole.h() * whole.d();
  for (std::int64_t i = 0; i < got.buffer().size(); ++i)
    worst = std::max(worst, std::fabs(double(got.buffer()[i]) - double(ref[i])));
  return worst / std::max(scale, 1e-30);
}

// Every row reads the row half a sequence away (on another rank for P = 2 and 3 with N = 600) and
// a few random ones: no interior row.
Csr every_row_boundary(std::int64_t n) {
  EdgeList e;
  e.n = n;
  for (std::int64_t i = 0; i < n; ++i) {
    e.add(static_cast<std::int32_t>((i + n / 2) % n), static_cast<std::int32_t>(i));
    for (std::uint64_t t = 0; t < 5; ++t)
      e.add(static_cast<std::int32_t>(
                rng::below(3, static_cast<std::uint64_t>(i), t, static_cast<std::uint32_t>(n))),
            static_cast<std::int32_t>(i));
  }
  return Csr::from_edges(e);
}

// Every row reads only rows of its own rank: no halo at all.
Csr no_row_boundary(const dist::Split& tokens) {
  EdgeList e;
  e.n = tokens.count();
  for (int p = 0; p < tokens.parts(); ++p)
    for (std::int64_t i = tokens.begin(p); i < tokens.end(p); ++i)
      for (std::uint64_t t = 0; t < 8; ++t)
        e.add(static_cast<std::int32_t>(tokens.begin(p) + static_cast<std::int64_t>(rng::below(
                                                              5, static_cast<std::uint64_t>(i), t,
                                                              static_cast<std::uint32_t>(tokens.size(p))))),
              static_cast<std::int32_t>(i));
  return Csr::from_edges(e);
}

// Blocks and a few random sources, and two hub rows that read every token (but that no row reads, so
// that the rows whose block and random sources are their rank's own stay interior).
Csr blocks_and_hubs(std::int64_t n) {
  EdgeList e = graphs::pattern_edges("blocks:32+random:2", n, 5);
  for (const std::int32_t hub : {5, static_cast<std::int32_t>(n / 2) + 3})
    for (std::int64_t j = 0; j < n; ++j) e.add(static_cast<std::int32_t>(j), hub);
  return Csr::from_edges(e);
}

struct Problem {
  Csr g;
  dist::Split tokens;
  std::int64_t h = 3, d = 16;
  Coefficients c = Coefficients::ppr(3, 0.1);
  bool mask = false;
};

// What one rank found, checked by the caller (after every collective call has returned).
struct Outcome {
  std::int64_t interior = 0, own = 0, halo = 0;
  bool z_bitwise = false, grads_bitwise = false;
  double z_error = 0, grad_error = 0;
};

Outcome run(Communicator& comm, const Problem& k) {
  const std::int64_t n = k.g.num_nodes();
  const auto input = [&](std::uint64_t stream) { return test::same_on_every_rank(n, k.h, k.d, kSeed, stream); };
  const Tensor3<float> q = input(1), kk = input(2), v = input(3), dz = input(4);
  std::vector<std::uint8_t> mask;
  if (k.mask) {
    mask.assign(static_cast<std::size_t>(n), 1);
    for (std::int64_t i = 1; i < n; i += 13) mask[static_cast<std::size_t>(i)] = 0;
  }
  const ops::NodeMask whole_mask = k.mask ? ops::NodeMask{mask.data(), n} : ops::NodeMask{};
  const Tensor3<float> ref = diffusion::diffuse(k.g, q.view(), kk.view(), v.view(), k.c, whole_mask);
  Tensor3<float> dq(n, k.h, k.d), dk(n, k.h, k.d), dv(n, k.h, k.d);
  const ReverseGraph rg(k.g);
  diffusion::diffuse_backward(k.g, rg, q.view(), kk.view(), v.view(), whole_mask, k.c, dz.view(), dq.view(),
                              dk.view(), dv.view());

  const int me = comm.rank();
  const std::int64_t b = k.tokens.begin(me), e = k.tokens.end(me);
  const dist::HaloPlan plan(comm, k.tokens, k.g);
  const ops::NodeMask own_mask = k.mask ? ops::NodeMask{mask.data() + b, e - b} : ops::NodeMask{};
  auto forward = [&](dist::Overlap o) {
    return dist::diffuse_tokens(comm, plan, rows_of(q, b, e), rows_of(kk, b, e), rows_of(v, b, e), own_mask,
                                k.c, nullptr, o);
  };
  auto backward = [&](dist::Overlap o) {
    return dist::diffuse_backward_tokens(comm, plan, rows_of(q, b, e), rows_of(kk, b, e), rows_of(v, b, e),
                                         own_mask, k.c, rows_of(dz, b, e), nullptr, o);
  };
  Outcome out;
  out.interior = plan.interior_rows();
  out.own = plan.own_rows();
  out.halo = plan.halo_rows();
  const Tensor3<float> z_on = forward(dist::Overlap::on), z_off = forward(dist::Overlap::off);
  out.z_bitwise = same_bits(z_on, z_off);
  out.z_error = rel_error(z_on, ref, b);
  const dist::Gradients g_on = backward(dist::Overlap::on), g_off = backward(dist::Overlap::off);
  out.grads_bitwise =
      same_bits(g_on.dq, g_off.dq) && same_bits(g_on.dk, g_off.dk) && same_bits(g_on.dv, g_off.dv);
  out.grad_error =
      std::max({rel_error(g_on.dq, dq, b), rel_error(g_on.dk, dk, b), rel_error(g_on.dv, dv, b)});
  return out;
}

void check(const Communicator& comm, const Outcome& o) {
  INFO("rank " << comm.rank() << " of " << comm.size() << ": " << o.own << " rows, " << o.interior
               << " interior, " << o.halo << " halo rows");
  CHECK(o.z_bitwise);
  CHECK(o.grads_bitwise);
  CHECK(o.z_error <= kForwardTolerance);
  CHECK(o.grad_error <= kGradientTolerance);
}

// f() in a context with the CPU options changed, on this thread (MPI calls stay on the main thread).
void with_cpu(const std::function<void(CpuOptions&)>& change, const std::function<void()>& f) {
  ContextOptions o = current_context().options();
  change(o.cpu);
  const Context ctx(o);
  ContextScope scope(ctx);
  f();
}

}  // namespace

TEST_CASE("overlapped halo exchange: every row a boundary row", "[mpi]") {
  const auto comm = mpi_world_communicator();
  Problem k{.g = every_row_boundary(600), .tokens = dist::Split::even(600, comm->size())};
  const Outcome o = run(*comm, k);
  CHECK(o.interior == 0);
  check(*comm, o);
}

TEST_CASE("overlapped halo exchange: no boundary row (no halo)", "[mpi]") {
  const auto comm = mpi_world_communicator();
  const dist::Split tokens = dist::Split::even(500, comm->size());
  Problem k{.g = no_row_boundary(tokens), .tokens = tokens, .c = Coefficients::heat(4, 1.5)};
  const Outcome o = run(*comm, k);
  CHECK(o.interior == o.own);
  CHECK(o.halo == 0);
  check(*comm, o);
}

TEST_CASE("overlapped halo exchange: panels, hub rows, some interior rows, padding mask", "[mpi]") {
  const auto comm = mpi_world_communicator();
  const bool panels = GENERATE(true, false);
  const int hops = GENERATE(0, 1, 4);  // 0: plain attention (one hop, no exchange after it)
  CAPTURE(panels, hops);
  with_cpu(
      [&](CpuOptions& c) {
        c.panels = panels;
        c.hub_threshold = 200;  // the two hub rows take the hub paths at this size
      },
      [&] {
        Problem k{.g = blocks_and_hubs(901),
                  .tokens = dist::Split::even(901, comm->size()),
                  .d = 64,
                  .c = Coefficients::ppr(hops, 0.1),
                  .mask = true};
        const Outcome o = run(*comm, k);
        CHECK(o.interior > 0);
        CHECK(o.interior < o.own);
        check(*comm, o);
      });
}

TEST_CASE("overlapped halo exchange: a rank with no rows", "[mpi]") {
  const auto comm = mpi_world_communicator();
  const int P = comm->size();
  if (P < 2) return;  // needs a second rank to leave empty
  const std::int64_t n = 700;
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(P), n / (P - 1));
  sizes[1] = 0;
  sizes.back() += n - (n / (P - 1)) * (P - 1);
  Problem k{.g = graphs::build_pattern("blocks:16+random:4+global-at:3", n, 9),
            .tokens = dist::Split::from_sizes(sizes),
            .c = Coefficients::custom({0.5, 0.3, 0.2})};
  const Outcome o = run(*comm, k);
  if (comm->rank() == 1) CHECK(o.own == 0);
  check(*comm, o);
}

TEST_CASE("a started exchange completes at finish, and its time and bytes are counted", "[mpi]") {
  const auto comm = mpi_world_communicator();
  const int P = comm->size(), me = comm->rank();
  // Each rank sends its rank number, repeated, to every other rank.
  const std::int64_t count = 1 << 16;
  std::vector<std::int32_t> mine(static_cast<std::size_t>(count), me);
  std::vector<std::vector<std::int32_t>> theirs(
      static_cast<std::size_t>(P), std::vector<std::int32_t>(static_cast<std::size_t>(count), -1));
  std::vector<SendMessage> sends;
  std::vector<RecvMessage> recvs;
  for (int p = 0; p < P; ++p)
    if (p != me) {
      sends.push_back({p, mine.data(), count * 4});
      recvs.push_back({p, theirs[static_cast<std::size_t>(p)].data(), count * 4});
    }
  comm->reset_traffic();
  PendingExchange x = comm->start_exchange(sends, recvs);
  CHECK(x.pending());
  CHECK(comm->traffic().bytes_sent == (P - 1) * count * 4);
  x.finish();
  CHECK_FALSE(x.pending());
  x.finish();  // a second finish does nothing
  bool all = true;
  for (int p = 0; p < P; ++p)
    if (p != me)
      for (const std::int32_t v : theirs[static_cast<std::size_t>(p)]) all = all && v == p;
  CHECK(all);
  CHECK(comm->traffic().bytes_received == (P - 1) * count * 4);
}
