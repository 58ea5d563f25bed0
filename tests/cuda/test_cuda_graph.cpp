// Graph construction on the GPU (ops::csr_from_edges: sort, unique, row offsets) against
// Csr::from_edges, and the availability report without a GPU.
#include <catch2/catch.hpp>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "cuda/cuda_test.hpp"

using namespace diffuser;

namespace {

Csr build_on_gpu(const EdgeList& el) {
  const Buffer<std::int32_t> s = Buffer<std::int32_t>::from_host(el.src, Device::cuda);
  const Buffer<std::int32_t> d = Buffer<std::int32_t>::from_host(el.dst, Device::cuda);
  Csr g = ops::csr_from_edges(el.n, {s.data(), s.size(), Device::cuda}, {d.data(), d.size(), Device::cuda});
  REQUIRE(g.device() == Device::cuda);
  return g.to(Device::cpu);
}

}  // namespace

TEST_CASE("cuda_available explains itself", "[cuda][engine]") {
  std::string why;
  if (!cuda_available(&why)) {
    REQUIRE(!why.empty());
    REQUIRE_THROWS_WITH(require_device(Device::cuda), Catch::Matchers::Contains(why));
  } else {
    REQUIRE(describe_device(Device::cuda).find("sm_") != std::string::npos);
  }
}

TEST_CASE("device graph construction equals Csr::from_edges", "[cuda][engine]") {
  if (!test::cuda_or_skip()) return;
  SECTION("random edges with duplicates and isolated nodes") {
    const std::int64_t n = GENERATE(1, 17, 1000, 70000);
    EdgeList el;
    el.n = n;
    const std::int64_t m = n * 30;
    for (std::int64_t e = 0; e < m; ++e)
      el.add(static_cast<std::int32_t>(
                 rng::below(5, 1, static_cast<std::uint64_t>(e), static_cast<std::uint32_t>(n))),
             static_cast<std::int32_t>(rng::below(5, 2, static_cast<std::uint64_t>(e),
                                                  static_cast<std::uint32_t>(n > 3 ? n - 3 : n))));
    const Csr cpu = Csr::from_edges(el);
    const Csr gpu = build_on_gpu(el);
    REQUIRE(gpu == cpu);
    gpu.validate();
  }
  SECTION("no edges") {
    EdgeList el;
    el.n = 12;
    REQUIRE(build_on_gpu(el) == Csr::from_edges(el));
  }
  SECTION("the authors' recipe") {
    const EdgeList el = graphs::pattern_edges(graphs::kDiffuserRecipe, 4096, 3);
    REQUIRE(build_on_gpu(el) == graphs::build_pattern(graphs::kDiffuserRecipe, 4096, 3));
  }
  SECTION("an endpoint out of range names the edge") {
    EdgeList el;
    el.n = 10;
    el.add(1, 2);
    el.add(3, 4);
    el.add(5, 6);
    el.add(10, 7);
    el.add(-1, 7);
    REQUIRE_THROWS_WITH(build_on_gpu(el), Catch::Matchers::Contains("edge 3 (10 -> 7)"));
  }
}
