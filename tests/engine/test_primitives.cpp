// Every CPU primitive against the float64 reference on random graphs with hub and empty rows,
// for the specialised head sizes and the generic path.
#include <catch2/catch.hpp>

#include <cmath>

#include <diffuser/engine/ops.hpp>

#include "support/reference.hpp"

using namespace diffuser;

namespace {

struct Case {
  Csr g;
  Tensor3<float> q, k, v;
  double scale;
};

Case make_case(std::int64_t n, std::int64_t h, std::int64_t d, std::uint64_t seed) {
  Case c{test::random_graph(n, 7, seed, {2, static_cast<std::int32_t>(n - 1)}, {4}), test::random_tensor(n, h, d, seed + 1),
         test::random_tensor(n, h, d, seed + 2), test::random_tensor(n, h, d, seed + 3),
         1.0 / std::sqrt(double(d))};
  return c;
}

std::vector<std::uint8_t> some_padding(std::int64_t n) {
  std::vector<std::uint8_t> m(static_cast<std::size_t>(n), 1);
  for (std::int64_t i = 0; i < n; i += 5) m[static_cast<std::size_t>(i)] = 0;
  return m;
}

}  // namespace

TEST_CASE("edge_dot, edge_softmax, edge_attention match the float64 reference", "[cpu][engine]") {
  const auto d = GENERATE(64, 24, 16, 32, 128, 8);
  const bool masked = GENERATE(false, true);
  CAPTURE(d, masked);
  const std::int64_t n = 45, h = 3;
  Case c = make_case(n, h, d, 100 + static_cast<std::uint64_t>(d));
  const auto mask = masked ? some_padding(n) : std::vector<std::uint8_t>{};
  const ops::NodeMask mview{mask.data(), static_cast<std::int64_t>(mask.size()), Device::cpu};

  Matrix<float> scores(c.g.num_edges(), h);
  ops::edge_dot(c.g.view(), c.q.view(), c.k.view(), static_cast<float>(c.scale), scores.view());
  const auto ref_s = test::ref_scores(c.g, c.q, c.k, c.scale);
  REQUIRE(test::rel_error(scores.buffer().data(), ref_s) < 1e-5);

  const auto dense = test::ref_dense_attention(c.g, c.q, c.k, mask, c.scale);
  const auto ref_w = test::edge_values(c.g, dense, h);
  ops::edge_softmax(c.g.view(), scores.view(), mview);
  REQUIRE(test::rel_error(scores.buffer().data(), ref_w) < 1e-5);

  Matrix<float> fused(c.g.num_edges(), h);
  ops::edge_attention(c.g.view(), c.q.view(), c.k.view(), static_cast<float>(c.scale), mview, fused.view());
  REQUIRE(test::rel_error(fused.buffer().data(), ref_w) < 1e-5);

  // Rows sum to one (or zero: the empty row, padded tokens).
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t hh = 0; hh < h; ++hh) {
      double sum = 0;
      for (auto e = c.g.row_ptr()[i]; e < c.g.row_ptr()[i + 1]; ++e) sum += fused.buffer()[e * h + hh];
      const bool dead = c.g.degree(i) == 0 || (masked && mask[static_cast<std::size_t>(i)] == 0);
      if (dead) REQUIRE(sum == 0.0);
      else if (!masked) REQUIRE(sum == Approx(1.0).epsilon(1e-6));
    }
}

TEST_CASE("gather_sum, gather_axpby and node_axpby match the float64 reference", "[cpu][engine]") {
  const auto d = GENERATE(64, 24, 16, 128);
  CAPTURE(d);
  const std::int64_t n = 45, h = 3;
  Case c = make_case(n, h, d, 200 + static_cast<std::uint64_t>(d));
  Matrix<float> w(c.g.num_edges(), h);
  ops::edge_attention(c.g.view(), c.q.view(), c.k.view(), 0.125f, {}, w.view());
  const auto wd = test::to_double(w.buffer().data(), w.buffer().size());

  Tensor3<float> out(n, h, d);
  ops::gather_sum(c.g.view(), w.view(), c.v.view(), out.view());
  const auto ref = test::ref_gather(c.g, wd, c.v);
  REQUIRE(test::rel_error(out.buffer().data(), ref) < 1e-5);

  ops::gather_axpby(c.g.view(), w.view(), 0.9f, c.v.view(), 0.1f, c.q.view(), out.view());
  std::vector<double> ref2(ref.size());
  for (std::size_t t = 0; t < ref.size(); ++t) ref2[t] = 0.9 * ref[t] + 0.1 * double(c.q.buffer()[static_cast<std::int64_t>(t)]);
  REQUIRE(test::rel_error(out.buffer().data(), ref2) < 1e-5);

  Tensor3<float> ax(n, h, d);
  ops::node_axpby(2.0f, c.q.view(), -0.5f, c.k.view(), ax.view());
  std::vector<double> ref3(ref.size());
  for (std::size_t t = 0; t < ref.size(); ++t)
    ref3[t] = 2.0 * c.q.buffer()[static_cast<std::int64_t>(t)] - 0.5 * c.k.buffer()[static_cast<std::int64_t>(t)];
  REQUIRE(test::rel_error(ax.buffer().data(), ref3) < 1e-6);
  // node_axpby may write in place
  ops::node_axpby(1.0f, ax.view(), 1.0f, ax.view(), ax.view());
  for (auto& r : ref3) r *= 2;
  REQUIRE(test::rel_error(ax.buffer().data(), ref3) < 1e-6);
}

TEST_CASE("primitives accept strided views of a packed (N, 3, H, D) projection", "[cpu][engine]") {
  const std::int64_t n = 30, h = 2, d = 64;
  Case c = make_case(n, h, d, 300);
  Buffer<float> packed(n * 3 * h * d);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t t = 0; t < h * d; ++t) {
      packed[(i * 3 + 0) * h * d + t] = c.q.buffer()[i * h * d + t];
      packed[(i * 3 + 1) * h * d + t] = c.k.buffer()[i * h * d + t];
      packed[(i * 3 + 2) * h * d + t] = c.v.buffer()[i * h * d + t];
    }
  auto view_of = [&](int which) {
    return Tensor3View<const float>{packed.data() + which * h * d, n, h, d, 3 * h * d, d, Device::cpu};
  };
  Matrix<float> w1(c.g.num_edges(), h), w2(c.g.num_edges(), h);
  ops::edge_attention(c.g.view(), c.q.view(), c.k.view(), 0.125f, {}, w1.view());
  ops::edge_attention(c.g.view(), view_of(0), view_of(1), 0.125f, {}, w2.view());
  REQUIRE(w1.buffer().to_vector() == w2.buffer().to_vector());
  Tensor3<float> o1(n, h, d), o2(n, h, d);
  ops::gather_sum(c.g.view(), w1.view(), c.v.view(), o1.view());
  ops::gather_sum(c.g.view(), w1.view(), view_of(2), o2.view());
  REQUIRE(o1.buffer().to_vector() == o2.buffer().to_vector());
}

TEST_CASE("primitives reject mismatched shapes with a clear message", "[cpu][engine]") {
  using Catch::Matchers::Contains;
  Case c = make_case(20, 2, 16, 400);
  Matrix<float> w(c.g.num_edges(), 2), wrong(c.g.num_edges() + 1, 2);
  Tensor3<float> small(19, 2, 16), other_h(20, 3, 16);
  REQUIRE_THROWS_WITH(ops::edge_dot(c.g.view(), small.view(), c.k.view(), 1.0f, w.view()),
                      Contains("edge_dot") && Contains("(19, 2, 16)") && Contains("20 nodes"));
  REQUIRE_THROWS_WITH(ops::edge_dot(c.g.view(), c.q.view(), other_h.view(), 1.0f, w.view()), Contains("differ"));
  REQUIRE_THROWS_WITH(ops::edge_softmax(c.g.view(), wrong.view()), Contains("(edges, heads)"));
  std::vector<std::uint8_t> short_mask(5, 1);
  REQUIRE_THROWS_WITH(ops::edge_softmax(c.g.view(), w.view(), {short_mask.data(), 5, Device::cpu}),
                      Contains("padding mask has 5 entries"));
  REQUIRE_THROWS_WITH(ops::gather_axpby(c.g.view(), w.view(), 1.0f, c.v.view(), 0.0f, {}, c.v.view()),
                      Contains("overlap"));
  REQUIRE_THROWS_WITH(ops::node_axpby(1.0f, c.q.view(), 1.0f, small.view(), c.k.view()), Contains("shapes differ"));
}
