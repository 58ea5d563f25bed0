// ops::prepare_hops on the CPU: nothing is packed, hops over the prepared weights are bitwise the
// plain hops (float32 and bf16 rows), and the shapes are checked. (The GPU's packed form:
// tests/cuda/test_cuda_panels.cpp.)
#include <catch2/catch.hpp>

#include <diffuser/engine/bf16.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops.hpp>

#include "support/reference.hpp"

using namespace diffuser;

TEST_CASE("prepare_hops on the CPU: nothing packed, the same hop, shapes checked", "[cpu][engine]") {
  const std::int64_t n = 300, h = 2, d = 64;
  const Csr g = test::random_graph(n, 20, 7, {5}, {9});
  const Tensor3<float> q = test::random_tensor(n, h, d, 31), v = test::random_tensor(n, h, d, 32);
  Matrix<float> w(g.num_edges(), h);
  ops::edge_attention(g.view(), q.view(), q.view(), 0.125f, {}, w.view());

  const ops::HopWeights hf = ops::prepare_hops(g.view(), w.view(), ops::EdgeLayout::edge_major, v.view());
  REQUIRE(hf.packed == nullptr);
  Tensor3<float> c(n, h, d), e(n, h, d);
  ops::gather_axpby(g.view(), hf, 0.9f, v.view(), 0.1f, v.view(), c.view());
  ops::gather_axpby(g.view(), w.view(), 0.9f, v.view(), 0.1f, v.view(), e.view());
  REQUIRE(c.buffer().to_vector() == e.buffer().to_vector());

  Tensor3<bf16> vb(n, h, d);
  for (std::int64_t t = 0; t < vb.buffer().size(); ++t) vb.buffer()[t] = to_bf16(v.buffer()[t]);
  const ops::HopWeights hb = ops::prepare_hops(g.view(), w.view(), ops::EdgeLayout::edge_major, vb.view());
  REQUIRE(hb.packed == nullptr);
  Tensor3<bf16> a(n, h, d), b(n, h, d);
  ops::gather_axpby(g.view(), hb, 0.9f, vb.view(), 0.1f, vb.view(), a.view());
  ops::gather_axpby(g.view(), w.view(), 0.9f, vb.view(), 0.1f, vb.view(), b.view());
  for (std::int64_t t = 0; t < a.buffer().size(); ++t) REQUIRE(a.buffer()[t].bits == b.buffer()[t].bits);

  const Tensor3<float> wrong = test::random_tensor(n, h + 1, d, 33);
  REQUIRE_THROWS_AS(ops::prepare_hops(g.view(), w.view(), ops::EdgeLayout::edge_major, wrong.view()), Error);
}
