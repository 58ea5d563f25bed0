// Edge cases of the CPU primitives: one node, empty rows, a hub row of degree N, full padding,
// NaN inputs, and independence from the thread count.
#include <catch2/catch.hpp>

#include <cmath>

#include <diffuser/engine/ops.hpp>
#include "support/context.hpp"

#include "support/reference.hpp"

using namespace diffuser;

TEST_CASE("a single node with and without a self loop", "[cpu][engine]") {
  const auto q = test::random_tensor(1, 2, 64, 1), k = test::random_tensor(1, 2, 64, 2),
             v = test::random_tensor(1, 2, 64, 3);
  EdgeList loop;
  loop.n = 1;
  loop.add(0, 0);
  const Csr g = Csr::from_edges(loop);
  Matrix<float> w(1, 2);
  ops::edge_attention(g.view(), q.view(), k.view(), 0.125f, {}, w.view());
  REQUIRE(w.buffer()[0] == 1.0f);
  REQUIRE(w.buffer()[1] == 1.0f);
  Tensor3<float> out(1, 2, 64);
  ops::gather_sum(g.view(), w.view(), v.view(), out.view());
  REQUIRE(out.buffer().to_vector() == v.buffer().to_vector());

  const Csr lonely = Csr::from_edges(1, {}, {});
  Matrix<float> none(0, 2);
  ops::edge_attention(lonely.view(), q.view(), k.view(), 0.125f, {}, none.view());
  ops::gather_axpby(lonely.view(), none.view(), 1.0f, v.view(), 0.5f, v.view(), out.view());
  for (std::int64_t t = 0; t < 128; ++t) REQUIRE(out.buffer()[t] == 0.5f * v.buffer()[t]);
}

TEST_CASE("a hub row of degree N matches the reference", "[cpu][engine]") {
  const std::int64_t n = 3000, h = 2, d = 64;
  const Csr g = test::random_graph(n, 3, 9, {0, 1500});
  REQUIRE(g.degree(0) == n);
  const auto q = test::random_tensor(n, h, d, 10), k = test::random_tensor(n, h, d, 11),
             v = test::random_tensor(n, h, d, 12);
  Matrix<float> w(g.num_edges(), h);
  ops::edge_attention(g.view(), q.view(), k.view(), 0.125f, {}, w.view());
  const auto ref_s = test::ref_scores(g, q, k, 0.125);
  // softmax reference per row in float64, from the exact scores
  std::vector<double> ref_w(ref_s.size());
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t hh = 0; hh < h; ++hh) {
      double m = -INFINITY, sum = 0;
      for (auto e = g.row_ptr()[i]; e < g.row_ptr()[i + 1]; ++e) m = std::max(m, ref_s[e * h + hh]);
      for (auto e = g.row_ptr()[i]; e < g.row_ptr()[i + 1]; ++e) sum += std::exp(ref_s[e * h + hh] - m);
      for (auto e = g.row_ptr()[i]; e < g.row_ptr()[i + 1]; ++e)
        ref_w[e * h + hh] = std::exp(ref_s[e * h + hh] - m) / sum;
    }
  REQUIRE(test::rel_error(w.buffer().data(), ref_w) < 1e-5);
  Tensor3<float> out(n, h, d);
  ops::gather_sum(g.view(), w.view(), v.view(), out.view());
  REQUIRE(test::rel_error(out.buffer().data(), test::ref_gather(g, ref_w, v)) < 1e-5);
  // the fused hop on hub rows, with a y term
  ops::gather_axpby(g.view(), w.view(), 0.75f, v.view(), 0.25f, q.view(), out.view());
  auto ref_hop = test::ref_gather(g, ref_w, v);
  for (std::size_t t = 0; t < ref_hop.size(); ++t)
    ref_hop[t] = 0.75 * ref_hop[t] + 0.25 * q.buffer()[static_cast<std::int64_t>(t)];
  REQUIRE(test::rel_error(out.buffer().data(), ref_hop) < 1e-5);
}

TEST_CASE("hub rows under a padding mask match the dense reference", "[cpu][engine]") {
  const std::int64_t n = 1200, h = 2, d = 32;
  const Csr g = test::random_graph(n, 2, 19, {7, 600, 1199});
  std::vector<std::uint8_t> mask(n, 1);
  for (std::int64_t i = 0; i < n; i += 3) mask[static_cast<std::size_t>(i)] = 0;
  mask[600] = 1;
  mask[7] = 0;  // a padded hub: its whole row gets zero weight
  const auto q = test::random_tensor(n, h, d, 20), k = test::random_tensor(n, h, d, 21);
  Matrix<float> w(g.num_edges(), h);
  ops::edge_attention(g.view(), q.view(), k.view(), 0.2f, {mask.data(), n, Device::cpu}, w.view());
  const auto ref = test::edge_values(g, test::ref_dense_attention(g, q, k, mask, 0.2), h);
  REQUIRE(test::rel_error(w.buffer().data(), ref) < 1e-5);
}

TEST_CASE("a fully padded sequence gives zero weights", "[cpu][engine]") {
  const std::int64_t n = 10;
  const Csr g = test::random_graph(n, 4, 3);
  const auto q = test::random_tensor(n, 1, 16, 1), k = test::random_tensor(n, 1, 16, 2);
  std::vector<std::uint8_t> mask(n, 0);
  Matrix<float> w(g.num_edges(), 1);
  ops::edge_attention(g.view(), q.view(), k.view(), 0.25f, {mask.data(), n, Device::cpu}, w.view());
  for (float x : w.buffer()) REQUIRE(x == 0.0f);
}

TEST_CASE("NaN in a query poisons exactly that token's row", "[cpu][engine]") {
  const std::int64_t n = 40, h = 2, d = 64;
  const Csr g = test::random_graph(n, 6, 4);
  auto q = test::random_tensor(n, h, d, 5);
  const auto k = test::random_tensor(n, h, d, 6);
  Matrix<float> clean(g.num_edges(), h), dirty(g.num_edges(), h);
  ops::edge_attention(g.view(), q.view(), k.view(), 0.125f, {}, clean.view());
  q.buffer()[(7 * h + 1) * d + 3] = NAN;
  ops::edge_attention(g.view(), q.view(), k.view(), 0.125f, {}, dirty.view());
  for (std::int64_t i = 0; i < n; ++i)
    for (auto e = g.row_ptr()[i]; e < g.row_ptr()[i + 1]; ++e)
      for (std::int64_t hh = 0; hh < h; ++hh) {
        const float x = dirty.buffer()[e * h + hh];
        if (i == 7 && hh == 1)
          REQUIRE(std::isnan(x));
        else
          REQUIRE(x == clean.buffer()[e * h + hh]);
      }
  REQUIRE(ops::find_non_finite(q.view()) == (7 * h + 1) * d + 3);
  q.buffer()[(7 * h + 1) * d + 3] = 1.0f;
  REQUIRE(ops::find_non_finite(q.view()) == -1);
}

TEST_CASE("primitive results do not depend on the thread count", "[cpu][engine]") {
  const std::int64_t n = 2000, h = 4, d = 64;
  const Csr g = test::random_graph(n, 40, 8, {5});
  const auto q = test::random_tensor(n, h, d, 1), k = test::random_tensor(n, h, d, 2),
             v = test::random_tensor(n, h, d, 3);
  auto run = [&](int threads) {
    return test::with_threads(threads, [&] {
      Matrix<float> w(g.num_edges(), h);
      ops::edge_attention(g.view(), q.view(), k.view(), 0.125f, {}, w.view());
      Tensor3<float> out(n, h, d);
      ops::gather_axpby(g.view(), w.view(), 0.9f, v.view(), 0.1f, v.view(), out.view());
      return std::pair{w.buffer().to_vector(), out.buffer().to_vector()};
    });
  };
  const auto [w1, o1] = run(1);
  const auto [w2, o2] = run(2);
  REQUIRE(test::rel_error(test::to_double(w2.data(), static_cast<std::int64_t>(w2.size())),
                          test::to_double(w1.data(), static_cast<std::int64_t>(w1.size()))) <= 1e-6);
  REQUIRE(test::rel_error(test::to_double(o2.data(), static_cast<std::int64_t>(o2.size())),
                          test::to_double(o1.data(), static_cast<std::int64_t>(o1.size()))) <= 1e-6);
}
