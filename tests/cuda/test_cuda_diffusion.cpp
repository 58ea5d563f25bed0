// The whole diffusion forward on the GPU (weights + K hops, no host round trip between hops)
// against dense float64 matrix powers and the CPU backend: PPR for several K, the heat kernel,
// user theta (K = 0 included), padding masks, empty rows, a single token, hub rows, bf16.
#include <catch2/catch.hpp>

#include <cmath>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/engine/error.hpp>

#include "cuda/cuda_test.hpp"
#include "support/reference.hpp"

using namespace diffuser;
using diffusion::Coefficients;

namespace {

struct Problem {
  Csr g;
  Tensor3<float> q, k, v;
};

Problem make_problem(std::int64_t n, std::int64_t h, std::int64_t d, std::uint64_t seed) {
  return {test::random_graph(n, 6, seed, {1, static_cast<std::int32_t>(n - 2)},
                             {static_cast<std::int32_t>(n / 2)}),
          test::random_tensor(n, h, d, seed + 1), test::random_tensor(n, h, d, seed + 2),
          test::random_tensor(n, h, d, seed + 3)};
}

std::vector<double> dense_reference(const Problem& p, const Coefficients& c,
                                    const std::vector<std::uint8_t>& mask) {
  const double scale = 1.0 / std::sqrt(double(p.q.d()));
  const auto dense = test::ref_dense_attention(p.g, p.q, p.k, mask, scale);
  return test::ref_dense_diffusion(dense, p.g.num_nodes(), p.q.h(), p.v, c.theta());
}

// GPU forward of `p`; returns Z on the host.
std::vector<float> gpu_forward(const Problem& p, const Coefficients& c,
                               const std::vector<std::uint8_t>& mask) {
  const Csr gd = p.g.to(Device::cuda);
  const Tensor3<float> qd = p.q.to(Device::cuda), kd = p.k.to(Device::cuda), vd = p.v.to(Device::cuda);
  const Buffer<std::uint8_t> md = Buffer<std::uint8_t>::from_host(mask, Device::cuda);
  const ops::NodeMask mv = mask.empty() ? ops::NodeMask{} : ops::NodeMask{md.data(), md.size(), Device::cuda};
  const Tensor3<float> z = diffusion::diffuse(gd, qd.view(), kd.view(), vd.view(), c, mv);
  return z.buffer().to_vector();
}

std::vector<std::uint8_t> padding(std::int64_t n) {
  std::vector<std::uint8_t> m(static_cast<std::size_t>(n), 1);
  for (std::int64_t i = 3; i < n; i += 7) m[static_cast<std::size_t>(i)] = 0;
  return m;
}

}  // namespace

TEST_CASE("CUDA diffusion matches dense matrix powers (PPR, heat, theta, masks)", "[cuda][diffusion]") {
  if (!test::cuda_or_skip()) return;
  test::ScheduleGuard guard;
  const std::string schedule = GENERATE(as<std::string>{}, "default", "hub=8", "hub=8,hop=h2,layout=em");
  const auto d = GENERATE(64, 20);
  const bool masked = GENERATE(false, true);
  CAPTURE(schedule, d, masked);
  guard.set(schedule);
  const Problem p = make_problem(48, 3, d, 31 + static_cast<std::uint64_t>(d));
  const auto mask = masked ? padding(48) : std::vector<std::uint8_t>{};
  for (const auto& c : {Coefficients::ppr(1, 0.1), Coefficients::ppr(2, 0.1), Coefficients::ppr(5, 0.1),
                        Coefficients::ppr(6, 0.35), Coefficients::ppr(0, 0.1), Coefficients::heat(5, 1.5),
                        Coefficients::heat(1, 0.5), Coefficients::custom({0.2, -0.1, 0.5, 0.4}),
                        Coefficients::custom({0.7})}) {
    CAPTURE(c.describe());
    const auto z = gpu_forward(p, c, mask);
    REQUIRE(test::rel_error(z.data(), dense_reference(p, c, mask)) < 1e-5);
  }
}

TEST_CASE("CUDA diffusion edge cases: one token, no edges, all rows hubs", "[cuda][diffusion]") {
  if (!test::cuda_or_skip()) return;
  test::ScheduleGuard guard;
  const auto c = Coefficients::ppr(3, 0.2);
  SECTION("a single token attending to itself") {
    EdgeList el;
    el.n = 1;
    el.add(0, 0);
    const Problem p{Csr::from_edges(el), test::random_tensor(1, 2, 64, 1), test::random_tensor(1, 2, 64, 2),
                    test::random_tensor(1, 2, 64, 3)};
    REQUIRE(test::rel_error(gpu_forward(p, c, {}).data(), dense_reference(p, c, {})) < 1e-6);
  }
  SECTION("a single token with no edge") {
    EdgeList el;
    el.n = 1;
    const Problem p{Csr::from_edges(el), test::random_tensor(1, 2, 64, 1), test::random_tensor(1, 2, 64, 2),
                    test::random_tensor(1, 2, 64, 3)};
    REQUIRE(test::rel_error(gpu_forward(p, c, {}).data(), dense_reference(p, c, {})) < 1e-6);
  }
  SECTION("a graph without edges") {
    EdgeList el;
    el.n = 9;
    const Problem p{Csr::from_edges(el), test::random_tensor(9, 3, 64, 1), test::random_tensor(9, 3, 64, 2),
                    test::random_tensor(9, 3, 64, 3)};
    REQUIRE(test::rel_error(gpu_forward(p, c, {}).data(), dense_reference(p, c, {})) < 1e-6);
  }
  SECTION("every row a hub (complete graph, hub path forced)") {
    guard.set("hub=4");
    EdgeList el;
    el.n = 70;
    for (std::int32_t i = 0; i < 70; ++i)
      for (std::int32_t j = 0; j < 70; ++j) el.add(j, i);
    const Problem p{Csr::from_edges(el), test::random_tensor(70, 2, 128, 1),
                    test::random_tensor(70, 2, 128, 2), test::random_tensor(70, 2, 128, 3)};
    const auto mask = padding(70);
    REQUIRE(test::rel_error(gpu_forward(p, c, mask).data(), dense_reference(p, c, mask)) < 1e-5);
    REQUIRE(test::rel_error(gpu_forward(p, c, {}).data(), dense_reference(p, c, {})) < 1e-5);
  }
}

TEST_CASE("CUDA diffusion is deterministic and agrees with the CPU backend (hub rows of degree N)",
          "[cuda][diffusion]") {
  if (!test::cuda_or_skip()) return;
  test::ScheduleGuard guard;
  guard.set("hub=64");
  const std::int64_t n = 1500, h = 4, d = 64;
  Problem p{test::random_graph(n, 40, 77, {0, 5, 700, static_cast<std::int32_t>(n - 1)}, {9, 10}),
            test::random_tensor(n, h, d, 1), test::random_tensor(n, h, d, 2),
            test::random_tensor(n, h, d, 3)};
  const auto c = Coefficients::ppr(5, 0.1);
  const auto mask = padding(n);
  const Buffer<std::uint8_t> mh = Buffer<std::uint8_t>::from_host(mask);
  const Tensor3<float> cpu =
      diffusion::diffuse(p.g, p.q.view(), p.k.view(), p.v.view(), c, {mh.data(), n, Device::cpu});
  const auto a = gpu_forward(p, c, mask);
  const auto b = gpu_forward(p, c, mask);
  REQUIRE(a == b);  // bitwise: no atomics, fixed summation order
  REQUIRE(test::rel_error(a.data(), test::to_double(cpu.buffer().data(), cpu.buffer().size())) < 1e-5);
}

TEST_CASE("CUDA bf16 diffusion matches float64 on the rounded inputs within 1e-2", "[cuda][diffusion]") {
  if (!test::cuda_or_skip()) return;
  test::ScheduleGuard guard;
  const std::string schedule = GENERATE(as<std::string>{}, "default", "hub=8");
  CAPTURE(schedule);
  guard.set(schedule);
  const Problem p0 = make_problem(64, 3, 64, 91);
  const Problem p{p0.g.to(Device::cpu), test::rounded(p0.q), test::rounded(p0.k), test::rounded(p0.v)};
  const Tensor3<bf16> qb = test::to_bf16_tensor(p.q), kb = test::to_bf16_tensor(p.k),
                      vb = test::to_bf16_tensor(p.v);
  const Csr gd = p.g.to(Device::cuda);
  for (const auto& c : {Coefficients::ppr(5, 0.1), Coefficients::ppr(0, 0.1), Coefficients::heat(4, 1.0),
                        Coefficients::custom({0.5})}) {
    CAPTURE(c.describe());
    const Tensor3<bf16> z = diffusion::diffuse(gd, qb.to(Device::cuda).view(), kb.to(Device::cuda).view(),
                                               vb.to(Device::cuda).view(), c);
    const auto zf = test::widen(z.buffer().to_vector());
    REQUIRE(test::rel_error(zf.data(), dense_reference(p, c, {})) < 1e-2);
    const Tensor3<bf16> zc = diffusion::diffuse(p.g, qb.view(), kb.view(), vb.view(), c);
    const auto zcf = test::widen(zc.buffer().to_vector());
    REQUIRE(test::rel_error(zf.data(), test::to_double(zcf.data(), static_cast<std::int64_t>(zcf.size()))) <
            1e-2);
  }
}
