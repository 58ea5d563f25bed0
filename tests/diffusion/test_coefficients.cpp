#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>

#include <diffuser/diffusion/coefficients.hpp>
#include <diffuser/engine/error.hpp>

using namespace diffuser;
using diffusion::Coefficients;
using Catch::Matchers::Contains;

TEST_CASE("PPR coefficients follow the authors' recursion", "[cpu][diffusion]") {
  const auto c = Coefficients::ppr(5, 0.1);
  REQUIRE(c.hops() == 5);
  REQUIRE(c.theta().size() == 6);
  for (int k = 0; k < 5; ++k) REQUIRE(c.theta()[k] == Approx(0.1 * std::pow(0.9, k)));
  REQUIRE(c.theta()[5] == Approx(std::pow(0.9, 5)));
  REQUIRE(std::accumulate(c.theta().begin(), c.theta().end(), 0.0) == Approx(1.0));
  REQUIRE(Coefficients::ppr(0, 0.1).plain_attention());
  REQUIRE_FALSE(c.plain_attention());
}

TEST_CASE("heat-kernel coefficients put the tail on the last hop", "[cpu][diffusion]") {
  const auto c = Coefficients::heat(4, 2.0);
  for (int k = 0; k < 4; ++k) REQUIRE(c.theta()[k] == Approx(std::exp(-2.0) * std::pow(2.0, k) / std::tgamma(k + 1)));
  REQUIRE(std::accumulate(c.theta().begin(), c.theta().end(), 0.0) == Approx(1.0));
  REQUIRE(Coefficients::heat(0, 1.0).theta() == std::vector<double>{1.0});
}

TEST_CASE("bad coefficients are usage errors naming the value", "[cpu][diffusion]") {
  REQUIRE_THROWS_AS(Coefficients::ppr(-1, 0.1), UsageError);
  REQUIRE_THROWS_WITH(Coefficients::ppr(5, 1.5), Contains("alpha") && Contains("1.5"));
  REQUIRE_THROWS_WITH(Coefficients::ppr(5, NAN), Contains("alpha"));
  REQUIRE_THROWS_WITH(Coefficients::heat(3, -1), Contains("heat time"));
  REQUIRE_THROWS_WITH(Coefficients::custom({}), Contains("at least one"));
  REQUIRE_THROWS_WITH(Coefficients::custom({0.5, INFINITY}), Contains("theta_1"));
  REQUIRE_THROWS_WITH(Coefficients::ppr(100000, 0.1), Contains("hops"));
}
