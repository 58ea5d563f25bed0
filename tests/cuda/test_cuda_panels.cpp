// The bf16 hop's dense tensor-core panels (engine/cuda/hop_panel.cuh) against the CPU backend, the
// float64 reference and the per-row gather kernel: tiles cut by N, empty rows, rows missing part
// of their tile's panel, hub rows beside panel rows, graphs without panels, a second hop through
// the same packed weights, bitwise repeatability, and when the plan is built.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include <diffuser/engine/ops.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "cuda/cuda_test.hpp"
#include "support/reference.hpp"

using namespace diffuser;

namespace {

// Every row reads most of its own 32-row tile (not where (i + j) % 7 == 0), 3 random sources,
// and the hubs' rows read everything; rows with i % 13 == 5 are empty.
Csr tiled_graph(std::int64_t n, std::vector<std::int32_t> hubs) {
  EdgeList el;
  el.n = n;
  std::uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::int32_t>((state >> 33) % static_cast<std::uint64_t>(n));
  };
  for (std::int64_t i = 0; i < n; ++i) {
    const auto dst = static_cast<std::int32_t>(i);
    if (std::find(hubs.begin(), hubs.end(), dst) != hubs.end()) {
      for (std::int32_t j = 0; j < n; ++j) el.add(j, dst);
      continue;
    }
    if (i % 13 == 5) continue;
    const std::int64_t t0 = i / 32 * 32;
    for (std::int64_t j = t0; j < std::min(n, t0 + 32); ++j)
      if ((i + j) % 7 != 0) el.add(static_cast<std::int32_t>(j), dst);
    for (int r = 0; r < 3; ++r) el.add(next(), dst);
  }
  return Csr::from_edges(el);
}

struct HopResult {
  std::vector<float> out;  // widened bf16
  std::int64_t panel_edges;
  bool packed;
};

// out = 0.9 * A v + 0.1 v on the GPU in bf16, head-major weights prepared for hops, under `schedule`.
HopResult gpu_hop(const Csr& g, const std::vector<float>& w_hm, const Tensor3<bf16>& vb,
                  const std::string& schedule) {
  test::ScheduleGuard guard;
  guard.set(schedule);
  const std::int64_t n = vb.n(), h = vb.h(), d = vb.d(), E = g.num_edges();
  const Csr gd = g.to(Device::cuda);
  const Buffer<float> w = Buffer<float>::from_host(w_hm, Device::cuda);
  const Tensor3<bf16> vd = vb.to(Device::cuda);
  const MatrixView<const float> wv{w.data(), h, E, Device::cuda};
  const std::int64_t panel_edges = baselines::cuda_panel_edges(gd);  // builds the plan now
  const ops::HopWeights hw = ops::prepare_hops(gd.view(), wv, ops::EdgeLayout::head_major, vd.view());
  Buffer<bf16> out = test::poisoned_bf16(n * h * d);
  ops::gather_axpby(gd.view(), hw, 0.9f, vd.view(), 0.1f, vd.view(),
                    tensor3_view(out.data(), n, h, d, Device::cuda));
  // A second hop from the first one's output reads the same packed weights.
  Buffer<bf16> out2 = test::poisoned_bf16(n * h * d);
  const Tensor3View<const bf16> first =
      tensor3_view(static_cast<const bf16*>(out.data()), n, h, d, Device::cuda);
  ops::gather_axpby(gd.view(), hw, 0.9f, first, 0.1f, vd.view(),
                    tensor3_view(out2.data(), n, h, d, Device::cuda));
  Buffer<bf16> plain = test::poisoned_bf16(n * h * d);
  ops::gather_axpby(gd.view(), wv, 0.9f, first, 0.1f, vd.view(),
                    tensor3_view(plain.data(), n, h, d, Device::cuda), ops::EdgeLayout::head_major);
  const auto two = test::widen(out2.to_vector()), ref_two = test::widen(plain.to_vector());
  REQUIRE(test::rel_error(two.data(),
                          test::to_double(ref_two.data(), static_cast<std::int64_t>(ref_two.size()))) < 5e-3);
  return {test::widen(out.to_vector()), panel_edges, hw.packed != nullptr};
}

void check_graph(const Csr& g, const char* schedule, bool expect_panels) {
  const std::int64_t n = g.num_nodes(), h = 3, d = 64, E = g.num_edges();
  const Tensor3<float> q = test::random_tensor(n, h, d, 21), k = test::random_tensor(n, h, d, 22),
                       v = test::random_tensor(n, h, d, 23);
  Matrix<float> w(E, h);  // softmax weights: rows sum to one, as in the diffusion
  ops::edge_attention(g.view(), q.view(), k.view(), 0.125f, {}, w.view());
  std::vector<float> w_hm(static_cast<std::size_t>(E * h));
  for (std::int64_t e = 0; e < E; ++e)
    for (std::int64_t hh = 0; hh < h; ++hh)
      w_hm[static_cast<std::size_t>(hh * E + e)] = w.buffer()[e * h + hh];
  const Tensor3<bf16> vb = test::to_bf16_tensor(v);
  const Tensor3<float> vr = test::rounded(v);
  const auto g_ref = test::ref_gather(g, test::to_double(w.buffer().data(), E * h), vr);
  std::vector<double> ref(g_ref.size());
  for (std::size_t t = 0; t < ref.size(); ++t)
    ref[t] = 0.9 * g_ref[t] + 0.1 * double(vr.buffer()[static_cast<std::int64_t>(t)]);

  const HopResult a = gpu_hop(g, w_hm, vb, schedule);
  CAPTURE(a.panel_edges, E);
  REQUIRE((a.panel_edges > 0) == expect_panels);
  REQUIRE(a.packed == expect_panels);
  REQUIRE(test::rel_error(a.out.data(), ref) < 5e-3);  // output rounding + bf16 panel weights
  // Every element, not only the norm: no row is left unwritten or mixed up.
  for (std::size_t t = 0; t < ref.size(); ++t)
    REQUIRE(std::abs(a.out[t] - ref[t]) <= 0.02 * std::abs(ref[t]) + 0.02);
  // The CPU backend on the same inputs.
  Tensor3<bf16> cpu(n, h, d);
  ops::gather_axpby(g.view(), w.view(), 0.9f, vb.view(), 0.1f, vb.view(), cpu.view());
  REQUIRE(test::rel_error(test::widen(cpu.buffer().to_vector()).data(), ref) < 5e-3);
  // The same hop without panels agrees, and a second run is bitwise the same.
  const HopResult b = gpu_hop(g, w_hm, vb, std::string(schedule) + ",panel=0");
  REQUIRE(b.panel_edges == 0);
  REQUIRE(!b.packed);
  REQUIRE(test::rel_error(b.out.data(), ref) < 5e-3);
  REQUIRE(gpu_hop(g, w_hm, vb, schedule).out == a.out);
}

}  // namespace

TEST_CASE("CUDA bf16 panel hop: tiled graph, empty rows, N not a multiple of 32", "[cuda][engine][panels]") {
  if (!test::cuda_or_skip()) return;
  test::ScheduleGuard guard;
  check_graph(tiled_graph(1000, {}), "default", true);
}

TEST_CASE("CUDA bf16 panel hop: hub rows beside panel rows", "[cuda][engine][panels]") {
  if (!test::cuda_or_skip()) return;
  test::ScheduleGuard guard;
  const Csr g = tiled_graph(700, {0, 40, 41, 699});
  check_graph(g, "hub=100", true);  // the 4 rows of degree 700 take the hub path
  check_graph(g, "hub=-1", true);   // no hub path: their non-panel edges are gathered per row
}

TEST_CASE("CUDA bf16 panel hop: the authors' recipe, and graphs without panels", "[cuda][engine][panels]") {
  if (!test::cuda_or_skip()) return;
  test::ScheduleGuard guard;
  check_graph(graphs::build_pattern(graphs::kDiffuserRecipe, 2000, 3), "default", true);
  check_graph(graphs::build_pattern(graphs::kDiffuserRecipe, 2000, 3), "hop=w8", false);  // forced kernel
  check_graph(test::random_graph(500, 12, 9, {7}, {3, 4}), "default", false);             // nothing shared
  check_graph(tiled_graph(1, {}), "default", false);                                      // one node
}

TEST_CASE("CUDA bf16 panels are planned on the device at a graph's first forward, equal to the host plan",
          "[cuda][engine][panels]") {
  if (!test::cuda_or_skip()) return;
  std::vector<std::pair<std::string, Csr>> cases;
  cases.emplace_back("tiled n=1000", tiled_graph(1000, {}));
  cases.emplace_back("tiled with hubs and empty rows", tiled_graph(700, {3, 400}));
  cases.emplace_back("recipe n=4096", graphs::build_pattern("diffuser", 4096, 5));
  cases.emplace_back("recipe n=1100", graphs::build_pattern("diffuser", 1100, 6));
  cases.emplace_back("random, hubs, empty rows", test::random_graph(2000, 30, 7, {5, 1999}, {0, 8}));
  cases.emplace_back("full n=300 (every row a hub under hub=64)", graphs::build_pattern("full", 300));
  cases.emplace_back("one node", tiled_graph(1, {}));
  for (const char* schedule : {"default", "hub=64", "hub=-1"}) {
    test::ScheduleGuard guard;
    guard.set(schedule);
    for (const auto& [name, g] : cases) {
      CAPTURE(schedule, name);
      const Csr gd = g.to(Device::cuda);
      REQUIRE(baselines::cuda_panel_plan_differences(gd) == "");  // every array, element by element
    }
  }
  const Csr g = tiled_graph(1000, {});
  const std::int64_t n = g.num_nodes(), h = 2, d = 64, E = g.num_edges();
  const Tensor3<bf16> vd = test::to_bf16_tensor(test::random_tensor(n, h, d, 41)).to(Device::cuda);
  const Buffer<float> w =
      Buffer<float>::from_host(std::vector<float>(static_cast<std::size_t>(E * h), 0.1f), Device::cuda);
  const MatrixView<const float> wv{w.data(), h, E, Device::cuda};
  const Csr gd = g.to(Device::cuda);  // a graph not planned yet: the first forward packs
  REQUIRE(gd.plans()->entries() == 0);
  REQUIRE(ops::prepare_hops(gd.view(), wv, ops::EdgeLayout::head_major, vd.view()).packed != nullptr);
  REQUIRE(gd.plans()->entries() > 0);  // kept with the graph
  REQUIRE(gd.plans()->bytes() > 0);
  // A bare view (no plans) plans for the call and packs too.
  CsrView bare = gd.view();
  bare.plans = nullptr;
  REQUIRE(ops::prepare_hops(bare, wv, ops::EdgeLayout::head_major, vd.view()).packed != nullptr);
}
