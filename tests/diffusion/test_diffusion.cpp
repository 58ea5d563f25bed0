// The full diffusion forward (weights + K hops) against dense float64 matrix powers.
#include <catch2/catch.hpp>

#include <cmath>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/engine/error.hpp>
#include "support/context.hpp"

#include "support/reference.hpp"

using namespace diffuser;
using diffusion::Coefficients;

namespace {

struct Problem {
  Csr g;
  Tensor3<float> q, k, v;
};

Problem make_problem(std::int64_t n, std::int64_t h, std::int64_t d, std::uint64_t seed) {
  return {test::random_graph(n, 5, seed, {1}, {static_cast<std::int32_t>(n / 2)}),
          test::random_tensor(n, h, d, seed + 1), test::random_tensor(n, h, d, seed + 2),
          test::random_tensor(n, h, d, seed + 3)};
}

double diffusion_error(const Problem& p, const Coefficients& c, const std::vector<std::uint8_t>& mask = {}) {
  const ops::NodeMask mv{mask.data(), static_cast<std::int64_t>(mask.size()), Device::cpu};
  diffusion::StageTimes times;
  const Tensor3<float> z = diffusion::diffuse(p.g, p.q.view(), p.k.view(), p.v.view(), c, mv, &times);
  const double scale = 1.0 / std::sqrt(double(p.q.d()));
  const auto dense = test::ref_dense_attention(p.g, p.q, p.k, mask, scale);
  const auto ref = test::ref_dense_diffusion(dense, p.g.num_nodes(), p.q.h(), p.v, c.theta());
  return test::rel_error(z.buffer().data(), ref);
}

}  // namespace

TEST_CASE("PPR diffusion matches dense matrix powers for K = 1..6", "[cpu][diffusion]") {
  const int hops = GENERATE(1, 2, 3, 5, 6);
  const auto d = GENERATE(64, 20);
  CAPTURE(hops, d);
  const Problem p = make_problem(36, 3, d, 10 + static_cast<std::uint64_t>(hops));
  REQUIRE(diffusion_error(p, Coefficients::ppr(hops, 0.1)) < 1e-5);
  REQUIRE(diffusion_error(p, Coefficients::ppr(hops, 0.35)) < 1e-5);
}

TEST_CASE("K = 0 is plain sparse attention, Z = A V", "[cpu][diffusion]") {
  const Problem p = make_problem(30, 2, 64, 5);
  const auto c = Coefficients::ppr(0, 0.1);
  REQUIRE(c.theta() == std::vector<double>{0.0, 1.0});
  REQUIRE(diffusion_error(p, c) < 1e-5);
}

TEST_CASE("heat kernel and user theta go through the same hop loop", "[cpu][diffusion]") {
  const Problem p = make_problem(32, 2, 64, 6);
  REQUIRE(diffusion_error(p, Coefficients::heat(5, 1.5)) < 1e-5);
  REQUIRE(diffusion_error(p, Coefficients::heat(1, 0.5)) < 1e-5);
  REQUIRE(diffusion_error(p, Coefficients::custom({0.2, -0.1, 0.5, 0.4})) < 1e-5);
  REQUIRE(diffusion_error(p, Coefficients::custom({0.7})) < 1e-6);
  // Horner's scheme with the PPR thetas equals the authors' recursion.
  const auto ppr = Coefficients::ppr(5, 0.1);
  const auto z1 = diffusion::diffuse(p.g, p.q.view(), p.k.view(), p.v.view(), ppr);
  const auto z2 =
      diffusion::diffuse(p.g, p.q.view(), p.k.view(), p.v.view(), Coefficients::custom(ppr.theta()));
  REQUIRE(test::rel_error(z2.buffer().data(), test::to_double(z1.buffer().data(), z1.buffer().size())) <
          1e-6);
}

TEST_CASE("the padding mask removes padded tokens from every hop", "[cpu][diffusion]") {
  const Problem p = make_problem(40, 2, 64, 7);
  std::vector<std::uint8_t> mask(40, 1);
  for (int i = 30; i < 40; ++i) mask[i] = 0;  // a padded tail, as a batch would have
  REQUIRE(diffusion_error(p, Coefficients::ppr(5, 0.1), mask) < 1e-5);
  REQUIRE(diffusion_error(p, Coefficients::ppr(0, 0.1), mask) < 1e-5);
}

TEST_CASE("a single token and a hub of degree N", "[cpu][diffusion]") {
  Problem one{Csr::from_edges(1, std::vector<std::int32_t>{0}, std::vector<std::int32_t>{0}),
              test::random_tensor(1, 2, 64, 1), test::random_tensor(1, 2, 64, 2),
              test::random_tensor(1, 2, 64, 3)};
  REQUIRE(diffusion_error(one, Coefficients::ppr(5, 0.1)) < 1e-6);
  Problem hub{test::random_graph(300, 3, 4, {0, 299}), test::random_tensor(300, 2, 64, 5),
              test::random_tensor(300, 2, 64, 6), test::random_tensor(300, 2, 64, 7)};
  REQUIRE(diffusion_error(hub, Coefficients::ppr(5, 0.1)) < 1e-5);
}

TEST_CASE("diffusion does not depend on the thread count", "[cpu][diffusion]") {
  const Problem p = make_problem(1500, 4, 64, 9);
  auto run = [&](int threads) {
    return test::with_threads(threads, [&] {
      return diffusion::diffuse(p.g, p.q.view(), p.k.view(), p.v.view(), Coefficients::ppr(5, 0.1))
          .buffer()
          .to_vector();
    });
  };
  const auto a = run(1), b = run(2), c = run(3);
  REQUIRE(a == b);  // bitwise
  REQUIRE(a == c);
}

TEST_CASE("check_finite names the tensor and the element", "[cpu][diffusion]") {
  auto v = test::random_tensor(5, 2, 8, 1);
  REQUIRE_NOTHROW(diffusion::check_finite(v.view(), "V.npy"));
  v.buffer()[(3 * 2 + 1) * 8 + 6] = INFINITY;
  REQUIRE_THROWS_WITH(diffusion::check_finite(v.view(), "V.npy"),
                      Catch::Matchers::Contains("V.npy") && Catch::Matchers::Contains("[3, 1, 6]"));
}
