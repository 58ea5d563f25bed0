// The distributed building blocks on one rank (the self communicator): token splits, agreement,
// and both modes against diffuse(). Several ranks: diffuser_mpi_check under mpirun.
#include <catch2/catch.hpp>

#include <cstring>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/diffusion/distributed.hpp>
#include <diffuser/engine/communicator.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/graphs/pattern.hpp>

using namespace diffuser;
namespace dist = diffusion::distributed;

TEST_CASE("distributed: Split even, from sizes and owner with empty parts", "[cpu]") {
  const dist::Split s = dist::Split::even(10, 3);
  CHECK(s.size(0) == 4);
  CHECK(s.size(1) == 3);
  CHECK(s.size(2) == 3);
  CHECK(s.owner(3) == 0);
  CHECK(s.owner(4) == 1);
  CHECK(s.owner(9) == 2);
  const std::vector<std::int64_t> sizes{5, 0, 0, 5};
  const dist::Split e = dist::Split::from_sizes(sizes);
  CHECK(e.owner(4) == 0);
  CHECK(e.owner(5) == 3);
  CHECK(e.count() == 10);
  CHECK_THROWS_AS(dist::Split::even(3, 0), Error);
}

TEST_CASE("distributed: one rank agrees, reports its error and copies to itself", "[cpu]") {
  const auto comm = self_communicator();
  CHECK(comm->size() == 1);
  CHECK_NOTHROW(agree_or_throw(*comm, ""));
  CHECK_THROWS_WITH(agree_or_throw(*comm, "cannot read q.npy"), "cannot read q.npy");
  const float src[3] = {1, 2, 3};
  float dst[3] = {};
  const SendMessage s{0, src, sizeof(src)};
  const RecvMessage r{0, dst, sizeof(dst)};
  comm->exchange({&s, 1}, {&r, 1});
  CHECK(dst[2] == 3.0f);
  CHECK(comm->traffic().bytes_sent == 0);  // a copy to oneself is not traffic
  // Started: one rank has nothing in flight, the copy is done at start and finish does nothing.
  float later[3] = {};
  const RecvMessage r2{0, later, sizeof(later)};
  PendingExchange x = comm->start_exchange({&s, 1}, {&r2, 1});
  CHECK(later[1] == 2.0f);
  x.finish();
  CHECK_FALSE(x.pending());
}

TEST_CASE("distributed: heads and tokens on one rank equal diffuse()", "[cpu]") {
  const std::int64_t n = 300, h = 3, d = 8;
  const Csr g = graphs::build_pattern("blocks:16+random:4+global-at:5", n, 3);
  auto make = [&](std::uint64_t stream) {
    Tensor3<float> t(n, h, d);
    for (std::int64_t i = 0; i < t.buffer().size(); ++i)
      t.buffer()[i] = static_cast<float>(rng::normal(1, stream, static_cast<std::uint64_t>(i)));
    return t;
  };
  const Tensor3<float> q = make(1), k = make(2), v = make(3);
  const auto c = diffusion::Coefficients::ppr(3, 0.1);
  const Tensor3<float> ref = diffusion::diffuse(g, q.view(), k.view(), v.view(), c);
  const auto comm = self_communicator();
  const dist::Split tokens = dist::Split::even(n, 1);
  dist::Stats stats;
  const Tensor3<float> zh = dist::diffuse_heads(*comm, g, tokens, q.view(), k.view(), v.view(), {}, c, &stats);
  CHECK(std::memcmp(zh.buffer().data(), ref.buffer().data(), ref.buffer().bytes()) == 0);
  CHECK(stats.bytes_sent == 0);
  const dist::HaloPlan plan(*comm, tokens, g);
  CHECK(plan.halo_rows() == 0);
  CHECK(plan.cut_edges() == 0);
  CHECK(plan.interior_rows() == n);
  const Tensor3<float> zt = dist::diffuse_tokens(*comm, plan, q.view(), k.view(), v.view(), {}, c);
  CHECK(std::memcmp(zt.buffer().data(), ref.buffer().data(), ref.buffer().bytes()) == 0);
  const Tensor3<float> zb =
      dist::diffuse_tokens(*comm, plan, q.view(), k.view(), v.view(), {}, c, nullptr, dist::Overlap::off);
  CHECK(std::memcmp(zb.buffer().data(), ref.buffer().data(), ref.buffer().bytes()) == 0);
}
