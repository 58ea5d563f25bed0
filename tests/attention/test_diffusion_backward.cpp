// The diffusion backward (PPR, heat, theta, plain attention, K = 0; padding mask; dropout on the
// weights and hops): float64 reference against finite differences, the float32 engine against it.
#include <catch2/catch.hpp>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/engine/error.hpp>

#include "attention/attention_test_util.hpp"
#include "attention/grad_reference.hpp"

using namespace diffuser;
using diffusion::Coefficients;
namespace g = diffuser::test::grad;
namespace ta = diffuser::test::attn;

namespace {

struct Case {
  Csr csr;
  ReverseGraph rg;
  g::Graph graph;
  std::int64_t n, H, D;
  std::vector<double> q, k, v, dz;
  std::vector<std::uint8_t> mask;
  Case(std::int64_t n_, std::int64_t H_, std::int64_t D_, std::uint64_t seed, bool masked)
      : csr(ta::test_graph(n_, 4, seed)), rg(csr), graph(csr), n(n_), H(H_), D(D_) {
    const auto sz = static_cast<std::size_t>(n * H * D);
    q = ta::random_values(sz, seed + 1);
    k = ta::random_values(sz, seed + 2);
    v = ta::random_values(sz, seed + 3);
    dz = ta::random_values(sz, seed + 4);
    if (masked) {
      mask.assign(static_cast<std::size_t>(n), 1);
      mask[2] = mask[static_cast<std::size_t>(n - 1)] = 0;
    }
  }
  ops::NodeMask node_mask() const {
    return mask.empty() ? ops::NodeMask{}
                        : ops::NodeMask{mask.data(), static_cast<std::int64_t>(mask.size()), Device::cpu};
  }
};

// Reference vs finite differences (dq, dk, dv), then the engine vs the reference.
void check(Case& c, const Coefficients& coeffs, diffusion::DiffusionDropout drop = {},
           diffusion::HopMemory memory = diffusion::HopMemory::store) {
  const g::Diffusion spec(coeffs, drop);
  auto loss = [&] { return g::dot(c.dz, g::diffuse(c.graph, c.q, c.k, c.v, c.H, c.D, c.mask, spec)); };
  const auto ref = g::diffuse_backward(c.graph, c.q, c.k, c.v, c.H, c.D, c.mask, spec, c.dz);
  REQUIRE(g::fd_check(loss, c.q, ref.dq, g::sample_coords(c.q.size(), 60, 1)) <= 1e-6);
  REQUIRE(g::fd_check(loss, c.k, ref.dk, g::sample_coords(c.k.size(), 60, 2)) <= 1e-6);
  REQUIRE(g::fd_check(loss, c.v, ref.dv, g::sample_coords(c.v.size(), 60, 3)) <= 1e-6);

  const auto q = ta::tensor_from(c.q, c.n, c.H, c.D), k = ta::tensor_from(c.k, c.n, c.H, c.D),
             v = ta::tensor_from(c.v, c.n, c.H, c.D), dz = ta::tensor_from(c.dz, c.n, c.H, c.D);
  Tensor3<float> dq(c.n, c.H, c.D), dk(c.n, c.H, c.D), dv(c.n, c.H, c.D);
  diffusion::BackwardOptions o;
  o.dropout = drop;
  o.memory = memory;
  diffusion::BackwardTimes times;
  diffusion::diffuse_backward(c.csr, c.rg, q.view(), k.view(), v.view(), c.node_mask(), coeffs, dz.view(),
                              dq.view(), dk.view(), dv.view(), o, &times);
  const double dq_norm = std::sqrt(g::dot(ref.dq, ref.dq));
  CHECK(g::rel(ta::to_vec(dv), ref.dv) <= 2e-5);
  if (dq_norm > 0) {
    CHECK(g::rel(ta::to_vec(dq), ref.dq) <= 1e-4);
    CHECK(g::rel(ta::to_vec(dk), ref.dk) <= 1e-4);
  } else {
    for (float x : dq.buffer()) REQUIRE(x == 0.0f);
    for (float x : dk.buffer()) REQUIRE(x == 0.0f);
  }
  // The forward with dropout matches the reference forward with the same masks.
  Tensor3<float> z(c.n, c.H, c.D), scratch(c.n, c.H, c.D);
  diffusion::diffuse_forward(c.csr, q.view(), k.view(), v.view(), c.node_mask(), coeffs, drop, z.view(),
                             scratch.view());
  CHECK(g::rel(ta::to_vec(z), g::diffuse(c.graph, c.q, c.k, c.v, c.H, c.D, c.mask, spec)) <= 2e-5);
}

}  // namespace

TEST_CASE("PPR diffusion backward, K = 1..5, against finite differences", "[cpu][attention][diffusion]") {
  const int hops = GENERATE(1, 2, 3, 5);
  const auto D = GENERATE(16, 6);
  CAPTURE(hops, D);
  Case c(23, 2, D, 100 + static_cast<std::uint64_t>(hops), false);
  check(c, Coefficients::ppr(hops, 0.1));
  check(c, Coefficients::ppr(hops, 0.4), {}, diffusion::HopMemory::recompute);
}

TEST_CASE("plain attention (K = 0), heat, theta and Z = theta_0 V backward", "[cpu][attention][diffusion]") {
  Case c(21, 3, 8, 7, false);
  check(c, Coefficients::ppr(0, 0.1));
  check(c, Coefficients::heat(4, 1.5));
  check(c, Coefficients::custom({0.3, -0.2, 0.6, 0.3}));
  check(c, Coefficients::custom({0.7}));
  check(c, Coefficients::heat(3, 0.8), {}, diffusion::HopMemory::recompute);
}

TEST_CASE("diffusion backward with a padding mask", "[cpu][attention][diffusion]") {
  Case c(25, 2, 16, 9, true);
  check(c, Coefficients::ppr(3, 0.15));
  check(c, Coefficients::ppr(0, 0.1));
}

TEST_CASE("diffusion backward with dropout on the weights and after every hop",
          "[cpu][attention][diffusion]") {
  Case c(24, 2, 16, 13, true);
  diffusion::DiffusionDropout d;
  d.p_weights = 0.2f;
  d.p_hops = 0.3f;
  d.seed = 5;
  d.stream = 77;
  check(c, Coefficients::ppr(4, 0.1), d);
  check(c, Coefficients::ppr(4, 0.1), d, diffusion::HopMemory::recompute);
  check(c, Coefficients::ppr(0, 0.1), d);  // plain attention: weights only
  check(c, Coefficients::heat(3, 1.0), d);
}

TEST_CASE("the training forward without dropout equals the inference forward",
          "[cpu][attention][diffusion]") {
  Case c(60, 4, 16, 3, true);
  const auto q = ta::tensor_from(c.q, c.n, c.H, c.D), k = ta::tensor_from(c.k, c.n, c.H, c.D),
             v = ta::tensor_from(c.v, c.n, c.H, c.D);
  for (const auto& coeffs :
       {Coefficients::ppr(5, 0.1), Coefficients::ppr(0, 0.1), Coefficients::heat(3, 2.0)}) {
    const Tensor3<float> ref = diffusion::diffuse(c.csr, q.view(), k.view(), v.view(), coeffs, c.node_mask());
    Tensor3<float> z(c.n, c.H, c.D), scratch(c.n, c.H, c.D);
    diffusion::diffuse_forward(c.csr, q.view(), k.view(), v.view(), c.node_mask(), coeffs, {}, z.view(),
                               scratch.view());
    REQUIRE(z.buffer().to_vector() == ref.buffer().to_vector());
  }
}

TEST_CASE("store, recompute and keep hop memory give the same gradients, and byte counts",
          "[cpu][attention][diffusion]") {
  Case c(80, 2, 16, 17, false);
  const auto q = ta::tensor_from(c.q, c.n, c.H, c.D), k = ta::tensor_from(c.k, c.n, c.H, c.D),
             v = ta::tensor_from(c.v, c.n, c.H, c.D), dz = ta::tensor_from(c.dz, c.n, c.H, c.D);
  std::vector<float> results[3];
  diffusion::DiffusionDropout drop;
  drop.p_hops = 0.2f;
  drop.p_weights = 0.1f;
  drop.seed = 4;
  std::vector<Tensor3<float>> kept;
  {
    Tensor3<float> z(c.n, c.H, c.D);
    diffusion::diffuse_forward(c.csr, q.view(), k.view(), v.view(), {}, Coefficients::ppr(5, 0.1), drop,
                               z.view(), {}, 0.0f, &kept);
    REQUIRE(kept.size() == 4);
    Tensor3<float> z2(c.n, c.H, c.D), scratch(c.n, c.H, c.D);
    diffusion::diffuse_forward(c.csr, q.view(), k.view(), v.view(), {}, Coefficients::ppr(5, 0.1), drop,
                               z2.view(), scratch.view());
    REQUIRE(z.buffer().to_vector() == z2.buffer().to_vector());
  }
  for (int m = 0; m < 3; ++m) {
    Tensor3<float> dq(c.n, c.H, c.D), dk(c.n, c.H, c.D), dv(c.n, c.H, c.D);
    diffusion::BackwardOptions o;
    o.dropout = drop;
    o.memory = m == 0   ? diffusion::HopMemory::store
               : m == 1 ? diffusion::HopMemory::recompute
                        : diffusion::HopMemory::keep;
    o.hop_inputs = diffusion::views_of(kept);
    diffusion::diffuse_backward(c.csr, c.rg, q.view(), k.view(), v.view(), {}, Coefficients::ppr(5, 0.1),
                                dz.view(), dq.view(), dk.view(), dv.view(), o);
    for (const auto* t : {&dq, &dk, &dv}) {
      auto x = t->buffer().to_vector();
      results[m].insert(results[m].end(), x.begin(), x.end());
    }
  }
  CHECK(g::rel(std::vector<double>(results[1].begin(), results[1].end()),
               std::vector<double>(results[0].begin(), results[0].end())) <= 1e-6);
  REQUIRE(results[0] == results[2]);
  diffusion::BackwardOptions bad;
  bad.memory = diffusion::HopMemory::keep;
  Tensor3<float> t1(c.n, c.H, c.D), t2(c.n, c.H, c.D), t3(c.n, c.H, c.D);
  REQUIRE_THROWS_WITH(
      diffusion::diffuse_backward(c.csr, c.rg, q.view(), k.view(), v.view(), {}, Coefficients::ppr(5, 0.1),
                                  dz.view(), t1.view(), t2.view(), t3.view(), bad),
      Catch::Contains("hop states"));
  const std::int64_t node = 100 * 12 * 64 * 4, edge = 5000 * 12 * 4;
  CHECK(diffusion::backward_bytes(100, 5000, 12, 64, 5, diffusion::HopMemory::store) == 2 * edge + 6 * node);
  CHECK(diffusion::backward_bytes(100, 5000, 12, 64, 5, diffusion::HopMemory::recompute) ==
        2 * edge + 4 * node);
  CHECK(diffusion::backward_bytes(100, 5000, 12, 64, 1, diffusion::HopMemory::store) == 2 * edge + node);
}

TEST_CASE("the forward's kept weights and hop states give the backward the same bits as recomputing",
          "[cpu][attention][diffusion]") {
  Case c(90, 4, 16, 23, true);
  const auto q = ta::tensor_from(c.q, c.n, c.H, c.D), k = ta::tensor_from(c.k, c.n, c.H, c.D),
             v = ta::tensor_from(c.v, c.n, c.H, c.D), dz = ta::tensor_from(c.dz, c.n, c.H, c.D);
  const Coefficients ppr = Coefficients::ppr(4, 0.15);
  for (const float p : {0.0f, 0.2f}) {
    diffusion::DiffusionDropout drop;
    drop.p_hops = drop.p_weights = p;
    drop.seed = 9;
    // Forward into caller buffers, against the forward that keeps nothing.
    Matrix<float> weights(c.csr.num_edges(), c.H);
    std::vector<Tensor3<float>> states;
    diffusion::ForwardKeep keep;
    keep.weights = weights.view();
    for (int s = 0; s < 3; ++s) keep.hops.push_back(states.emplace_back(c.n, c.H, c.D).view());
    Tensor3<float> z(c.n, c.H, c.D), z_ref(c.n, c.H, c.D), scratch(c.n, c.H, c.D);
    diffusion::diffuse_forward(c.csr, q.view(), k.view(), v.view(), c.node_mask(), ppr, drop, z.view(), {},
                               keep);
    diffusion::diffuse_forward(c.csr, q.view(), k.view(), v.view(), c.node_mask(), ppr, drop, z_ref.view(),
                               scratch.view());
    REQUIRE(z.buffer().to_vector() == z_ref.buffer().to_vector());
    Matrix<float> w_ref(c.csr.num_edges(), c.H);
    diffusion::attention_weights(c.csr, q.view(), k.view(), c.node_mask(), 0.0f, w_ref.view());
    REQUIRE(weights.buffer().to_vector() == w_ref.buffer().to_vector());  // before dropout

    for (const auto memory :
         {diffusion::HopMemory::store, diffusion::HopMemory::recompute, diffusion::HopMemory::keep})
      for (const int groups : {1, 2, 4}) {
        std::vector<float> got[2];
        for (int kept_w = 0; kept_w < 2; ++kept_w) {
          Tensor3<float> dq(c.n, c.H, c.D), dk(c.n, c.H, c.D), dv(c.n, c.H, c.D);
          diffusion::BackwardOptions o;
          o.dropout = drop;
          o.memory = memory;
          o.head_groups = groups;
          o.hop_inputs = diffusion::views_of(states);
          if (kept_w) o.weights = weights.view();
          diffusion::diffuse_backward(c.csr, c.rg, q.view(), k.view(), v.view(), c.node_mask(), ppr,
                                      dz.view(), dq.view(), dk.view(), dv.view(), o);
          for (const auto* t : {&dq, &dk, &dv}) {
            auto x = t->buffer().to_vector();
            got[kept_w].insert(got[kept_w].end(), x.begin(), x.end());
          }
        }
        INFO("p " << p << ", memory " << static_cast<int>(memory) << ", groups " << groups);
        REQUIRE(got[0] == got[1]);
      }
  }
  // Wrong shapes are named.
  Tensor3<float> dq(c.n, c.H, c.D), dk(c.n, c.H, c.D), dv(c.n, c.H, c.D), z(c.n, c.H, c.D);
  Matrix<float> narrow(c.csr.num_edges(), c.H - 1);
  diffusion::BackwardOptions o;
  o.weights = narrow.view();
  REQUIRE_THROWS_WITH(diffusion::diffuse_backward(c.csr, c.rg, q.view(), k.view(), v.view(), {}, ppr,
                                                  dz.view(), dq.view(), dk.view(), dv.view(), o),
                      Catch::Contains("kept weights"));
  diffusion::ForwardKeep two;
  two.hops = {dq.view(), dk.view()};
  REQUIRE_THROWS_WITH(
      diffusion::diffuse_forward(c.csr, q.view(), k.view(), v.view(), {}, ppr, {}, z.view(), {}, two),
      Catch::Contains("3 hop states"));
  diffusion::ForwardKeep wide;
  wide.weights = narrow.view();
  REQUIRE_THROWS_WITH(
      diffusion::diffuse_forward(c.csr, q.view(), k.view(), v.view(), {}, ppr, {}, z.view(), dv.view(), wide),
      Catch::Contains("weights to keep"));
}

TEST_CASE("diffusion backward rejects mismatched shapes and aliasing", "[cpu][attention][diffusion]") {
  Case c(20, 2, 8, 1, false);
  const auto q = ta::tensor_from(c.q, c.n, c.H, c.D);
  Tensor3<float> dq(c.n, c.H, c.D), dk(c.n, c.H, c.D), dv(c.n, c.H, c.D), small(c.n - 1, c.H, c.D);
  const Csr other = ta::test_graph(20, 3, 99);
  const ReverseGraph rg_other(other);
  REQUIRE_THROWS_WITH(
      diffusion::diffuse_backward(c.csr, c.rg, q.view(), q.view(), q.view(), {}, Coefficients::ppr(2, 0.1),
                                  small.view(), dq.view(), dk.view(), dv.view()),
      Catch::Contains("dz"));
  REQUIRE_THROWS_WITH(
      diffusion::diffuse_backward(c.csr, c.rg, q.view(), q.view(), q.view(), {}, Coefficients::ppr(2, 0.1),
                                  q.view(), dq.view(), dk.view(), dq.view()),
      Catch::Contains("overlap") || Catch::Contains("dv"));
  if (other.num_edges() != c.csr.num_edges())
    REQUIRE_THROWS_WITH(
        diffusion::diffuse_backward(c.csr, rg_other, q.view(), q.view(), q.view(), {},
                                    Coefficients::ppr(2, 0.1), q.view(), dq.view(), dk.view(), dv.view()),
        Catch::Contains("reverse graph"));
}
