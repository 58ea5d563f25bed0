// Gradient primitives of the engine: each float64 reference against central finite differences
// (<= 1e-6), then the float32 engine against the reference; determinism and argument checks.
#include <catch2/catch.hpp>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops.hpp>
#include <diffuser/engine/ops_backward.hpp>
#include <diffuser/graphs/pattern.hpp>
#include "support/context.hpp"

#include "attention/attention_test_util.hpp"
#include "attention/grad_reference.hpp"

using namespace diffuser;
namespace g = diffuser::test::grad;
namespace ta = diffuser::test::attn;

namespace {

struct Problem {
  Csr csr;
  ReverseGraph rg;
  g::Graph graph;
  std::int64_t n, H, D;
  Problem(std::int64_t n_, std::int64_t H_, std::int64_t D_, std::uint64_t seed)
      : csr(ta::test_graph(n_, 4, seed)), rg(csr), graph(csr), n(n_), H(H_), D(D_) {}
  std::size_t nodes() const { return static_cast<std::size_t>(n * H * D); }
  std::size_t edges() const { return static_cast<std::size_t>(csr.num_edges() * H); }
};

}  // namespace

TEST_CASE("scatter (transposed gather) is the gradient of gather, and the engine matches it",
          "[cpu][attention][backward]") {
  const auto D = GENERATE(16, 64, 12);
  CAPTURE(D);
  Problem p(37, 3, D, 1);
  const auto w = ta::random_values(p.edges(), 2);
  auto x = ta::random_values(p.nodes(), 3);
  const auto u = ta::random_values(p.nodes(), 4);
  // L(x) = <u, a W x>: dL/dx = a W^T u (the scatter); dL/dw = a <u_i, x_j> (an edge_dot).
  const double a = 0.7;
  auto loss = [&] { return g::dot(u, g::gather(p.graph, w, x, p.H, p.D, a)); };
  const auto dx = g::scatter(p.graph, w, u, p.H, p.D, a);
  REQUIRE(g::fd_check(loss, x, dx, g::sample_coords(x.size(), 200, 1)) <= 1e-6);
  auto wv = w;
  auto loss_w = [&] { return g::dot(u, g::gather(p.graph, wv, x, p.H, p.D, a)); };
  REQUIRE(g::fd_check(loss_w, wv, g::edge_dot(p.graph, u, x, p.H, p.D, a),
                      g::sample_coords(wv.size(), 200, 2)) <= 1e-6);

  // Engine: out = a W^T u + b z, with and without the z term, and out aliasing z.
  const Matrix<float> wm = ta::matrix_from(w, p.csr.num_edges(), p.H);
  const Tensor3<float> uu = ta::tensor_from(u, p.n, p.H, p.D);
  const auto zv = ta::random_values(p.nodes(), 5);
  Tensor3<float> out(p.n, p.H, p.D), z = ta::tensor_from(zv, p.n, p.H, p.D);
  ops::scatter_axpby(p.rg.view(), wm.view(), 0.7f, uu.view(), 0.0f, {}, out.view());
  CHECK(g::rel(ta::to_vec(out), dx) <= 1e-5);
  ops::scatter_axpby(p.rg.view(), wm.view(), 0.7f, uu.view(), -0.5f, z.view(), z.view());
  auto ref = dx;
  for (std::size_t i = 0; i < ref.size(); ++i) ref[i] += -0.5 * zv[i];
  CHECK(g::rel(ta::to_vec(z), ref) <= 1e-5);
  ops::scatter_sum(p.rg.view(), wm.view(), uu.view(), out.view());
  CHECK(g::rel(ta::to_vec(out), g::scatter(p.graph, w, u, p.H, p.D)) <= 1e-5);
}

TEST_CASE("edge softmax backward against finite differences, with a padding mask",
          "[cpu][attention][backward]") {
  Problem p(41, 4, 8, 7);
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(p.n), 1);
  mask[3] = mask[17] = 0;
  auto s = ta::random_values(p.edges(), 8, 2.0);
  const auto G = ta::random_values(p.edges(), 9);
  for (const auto& m : {std::vector<std::uint8_t>{}, mask}) {
    auto loss = [&] { return g::dot(G, g::softmax(p.graph, s, p.H, m)); };
    const auto w = g::softmax(p.graph, s, p.H, m);
    const auto ds = g::softmax_backward(p.graph, w, G, p.H);
    REQUIRE(g::fd_check(loss, s, ds, g::sample_coords(s.size(), 300, 3)) <= 1e-6);
    Matrix<float> wm = ta::matrix_from(w, p.csr.num_edges(), p.H),
                  gm = ta::matrix_from(G, p.csr.num_edges(), p.H);
    ops::edge_softmax_backward(p.csr.view(), wm.view(), gm.view());
    CHECK(g::rel(ta::to_vec(gm), ds) <= 1e-5);
  }
}

TEST_CASE("hop backward: dx = a W^T p + c y and dw += a <p_i, x_j>, fused", "[cpu][attention][backward]") {
  const auto D = GENERATE(32, 7);
  CAPTURE(D);
  Problem p(29, 2, D, 11);
  auto w = ta::random_values(p.edges(), 12);
  auto x = ta::random_values(p.nodes(), 13);
  const auto v = ta::random_values(p.nodes(), 14), G = ta::random_values(p.nodes(), 15);
  const double a = 0.85, b = 0.15;
  // One PPR hop out = a W x + b v and L = <G, out>.
  auto loss = [&] {
    auto o = g::gather(p.graph, w, x, p.H, p.D, a);
    for (std::size_t i = 0; i < o.size(); ++i) o[i] += b * v[i];
    return g::dot(G, o);
  };
  const auto dx = g::scatter(p.graph, w, G, p.H, p.D, a);
  const auto dw = g::edge_dot(p.graph, G, x, p.H, p.D, a);
  REQUIRE(g::fd_check(loss, x, dx, g::sample_coords(x.size(), 200, 4)) <= 1e-6);
  REQUIRE(g::fd_check(loss, w, dw, g::sample_coords(w.size(), 200, 5)) <= 1e-6);

  const Matrix<float> wm = ta::matrix_from(w, p.csr.num_edges(), p.H);
  const Tensor3<float> Gt = ta::tensor_from(G, p.n, p.H, p.D), xt = ta::tensor_from(x, p.n, p.H, p.D);
  const auto dw0 = ta::random_values(p.edges(), 16);
  Matrix<float> dwm = ta::matrix_from(dw0, p.csr.num_edges(), p.H);  // accumulates on top
  const auto yv = ta::random_values(p.nodes(), 17);
  Tensor3<float> out = ta::tensor_from(yv, p.n, p.H, p.D);
  ops::hop_backward(p.rg.view(), wm.view(), 0.85f, Gt.view(), xt.view(), 2.0f, out.view(), dwm.view(),
                    out.view());
  auto ref_x = dx;
  for (std::size_t i = 0; i < ref_x.size(); ++i) ref_x[i] += 2.0 * yv[i];
  auto ref_w = dw;
  for (std::size_t i = 0; i < ref_w.size(); ++i) ref_w[i] += dw0[i];
  CHECK(g::rel(ta::to_vec(out), ref_x) <= 1e-5);
  CHECK(g::rel(ta::to_vec(dwm), ref_w) <= 1e-5);
}

TEST_CASE("score backward into packed dq, dk views against finite differences",
          "[cpu][attention][backward]") {
  const auto D = GENERATE(16, 64, 5);
  CAPTURE(D);
  Problem p(33, 3, D, 21);
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(p.n), 1);
  mask[5] = 0;
  auto q = ta::random_values(p.nodes(), 22), k = ta::random_values(p.nodes(), 23);
  const auto G = ta::random_values(p.edges(), 24);
  const double scale = 1.0 / std::sqrt(double(D));
  auto loss = [&] {
    return g::dot(G, g::softmax(p.graph, g::scores(p.graph, q, k, p.H, p.D, scale), p.H, mask));
  };
  const auto w = g::softmax(p.graph, g::scores(p.graph, q, k, p.H, p.D, scale), p.H, mask);
  const auto ds = g::softmax_backward(p.graph, w, G, p.H);
  const auto dq = g::gather(p.graph, ds, k, p.H, p.D, scale),
             dk = g::scatter(p.graph, ds, q, p.H, p.D, scale);
  REQUIRE(g::fd_check(loss, q, dq, g::sample_coords(q.size(), 200, 6)) <= 1e-6);
  REQUIRE(g::fd_check(loss, k, dk, g::sample_coords(k.size(), 200, 7)) <= 1e-6);

  const Tensor3<float> qt = ta::tensor_from(q, p.n, p.H, p.D), kt = ta::tensor_from(k, p.n, p.H, p.D);
  Matrix<float> wm = ta::matrix_from(w, p.csr.num_edges(), p.H),
                gm = ta::matrix_from(G, p.csr.num_edges(), p.H);
  // dq and dk interleaved in one (N, 2, H, D) buffer, as the layer's packed projection gradient.
  Buffer<float> packed(2 * static_cast<std::int64_t>(p.nodes()));
  const std::int64_t row = 2 * p.H * p.D;
  Tensor3View<float> dqv{packed.data(), p.n, p.H, p.D, row, p.D, Device::cpu};
  Tensor3View<float> dkv{packed.data() + p.H * p.D, p.n, p.H, p.D, row, p.D, Device::cpu};
  ops::attention_backward(p.csr.view(), p.rg.view(), qt.view(), kt.view(), static_cast<float>(scale),
                          wm.view(), gm.view(), dqv, dkv);
  std::vector<double> got_q, got_k;
  for (std::int64_t i = 0; i < p.n; ++i)
    for (std::int64_t t = 0; t < p.H * p.D; ++t) {
      got_q.push_back(packed[i * row + t]);
      got_k.push_back(packed[i * row + p.H * p.D + t]);
    }
  CHECK(g::rel(got_q, dq) <= 1e-5);
  CHECK(g::rel(got_k, dk) <= 1e-5);
  CHECK(g::rel(ta::to_vec(gm), ds) <= 1e-5);  // grad holds dS afterwards
}

TEST_CASE("gradient primitives are bitwise deterministic across thread counts",
          "[cpu][attention][backward]") {
  Problem p(300, 4, 64, 31);
  const Matrix<float> wm = ta::matrix_from(ta::random_values(p.edges(), 1), p.csr.num_edges(), p.H);
  const Tensor3<float> y = ta::tensor_from(ta::random_values(p.nodes(), 2), p.n, p.H, p.D);
  const Tensor3<float> x = ta::tensor_from(ta::random_values(p.nodes(), 3), p.n, p.H, p.D);
  auto run_once = [&] {
    Tensor3<float> out(p.n, p.H, p.D), out2(p.n, p.H, p.D);
    Matrix<float> dw(p.csr.num_edges(), p.H);
    dw.buffer().zero();
    ops::scatter_sum(p.rg.view(), wm.view(), y.view(), out.view());
    ops::hop_backward(p.rg.view(), wm.view(), 0.9f, y.view(), x.view(), 0.0f, {}, dw.view(), out2.view());
    auto v = out.buffer().to_vector();
    auto v2 = out2.buffer().to_vector();
    auto v3 = dw.buffer().to_vector();
    v.insert(v.end(), v2.begin(), v2.end());
    v.insert(v.end(), v3.begin(), v3.end());
    return v;
  };
  auto run = [&](int threads) { return test::with_threads(threads, [&] { return run_once(); }); };
  const auto one = run(1);
  REQUIRE(one == run(2));
  REQUIRE(one == run(3));
}

TEST_CASE("dropout masks are regenerated from (seed, stream, index), in both edge layouts",
          "[cpu][attention][backward]") {
  Tensor3<float> x(50, 3, 20);
  for (auto& v : x.buffer()) v = 1.0f;
  ops::dropout(x.view(), 0.25f, 7, 3);
  std::int64_t kept = 0;
  for (float v : x.buffer()) {
    REQUIRE((v == 0.0f || v == Approx(1.0f / 0.75f)));
    kept += v != 0.0f;
  }
  CHECK(std::abs(double(kept) / 3000.0 - 0.75) < 0.04);
  Tensor3<float> y(50, 3, 20);
  for (auto& v : y.buffer()) v = 1.0f;
  ops::dropout(y.view(), 0.25f, 7, 3);
  CHECK(x.buffer().to_vector() == y.buffer().to_vector());
  for (auto& v : y.buffer()) v = 1.0f;
  ops::dropout(y.view(), 0.25f, 8, 3);
  CHECK(x.buffer().to_vector() != y.buffer().to_vector());
  // p = 0 is the identity; p outside [0, 1) is refused.
  for (auto& v : y.buffer()) v = 2.0f;
  ops::dropout(y.view(), 0.0f, 7, 3);
  for (float v : y.buffer()) REQUIRE(v == 2.0f);
  REQUIRE_THROWS_AS(ops::dropout(y.view(), 1.0f, 7, 3), Error);
  REQUIRE_THROWS_AS(ops::dropout(y.view(), -0.1f, 7, 3), Error);

  // The loop form of the keep test is rng::bits itself.
  for (std::uint64_t i = 0; i < 1000; ++i)
    REQUIRE(rng::bits(7, 3, i) == rng::mix64(ops::dropout_key(7, 3) + i));
  // Edge values: the same logical (e, h) mask edge-major and head-major.
  const std::int64_t E = 40, H = 3;
  Matrix<float> em(E, H), hm(H, E);
  for (auto& v : em.buffer()) v = 1.0f;
  for (auto& v : hm.buffer()) v = 1.0f;
  ops::dropout_edges(em.view(), ops::EdgeLayout::edge_major, 0.5f, 1, 2);
  ops::dropout_edges(hm.view(), ops::EdgeLayout::head_major, 0.5f, 1, 2);
  for (std::int64_t e = 0; e < E; ++e)
    for (std::int64_t h = 0; h < H; ++h) REQUIRE(em.buffer()[e * H + h] == hm.buffer()[h * E + e]);
}

TEST_CASE("gradient primitives reject bad arguments with messages", "[cpu][attention][backward]") {
  Problem p(20, 2, 8, 41);
  Matrix<float> w(p.csr.num_edges(), p.H), bad(p.csr.num_edges(), p.H + 1);
  Tensor3<float> y(p.n, p.H, p.D), out(p.n, p.H, p.D), small(p.n - 1, p.H, p.D);
  REQUIRE_THROWS_WITH(ops::scatter_sum(p.rg.view(), bad.view(), y.view(), out.view()),
                      Catch::Contains("scatter_axpby") && Catch::Contains("weights"));
  REQUIRE_THROWS_WITH(ops::scatter_sum(p.rg.view(), w.view(), small.view(), out.view()),
                      Catch::Contains("nodes"));
  REQUIRE_THROWS_WITH(ops::scatter_sum(p.rg.view(), w.view(), y.view(), y.view()),
                      Catch::Contains("overlap"));
  REQUIRE_THROWS_WITH(ops::edge_softmax_backward(p.csr.view(), w.view(), bad.view()),
                      Catch::Contains("grad"));
  REQUIRE_THROWS_WITH(
      ops::hop_backward(p.rg.view(), w.view(), 1.0f, y.view(), y.view(), 0.0f, {}, bad.view(), out.view()),
      Catch::Contains("dw"));
  const Csr other = ta::test_graph(21, 3, 1);
  const ReverseGraph rg_other(other);
  REQUIRE_THROWS_WITH(ops::attention_backward(p.csr.view(), rg_other.view(), y.view(), y.view(), 1.0f,
                                              w.view(), w.view(), out.view(), small.view()),
                      Catch::Contains("reverse"));
}

TEST_CASE("edge values in reverse-graph order: permute, unpermute, and the unindirected kernels",
          "[cpu][attention][backward]") {
  Problem p(64, 3, 16, 51);
  const Matrix<float> w = ta::matrix_from(ta::random_values(p.edges(), 1), p.csr.num_edges(), p.H);
  Matrix<float> wr(p.csr.num_edges(), p.H), back(p.csr.num_edges(), p.H);
  ops::permute_edges(p.rg.view(), w.view(), wr.view());
  for (std::int64_t t = 0; t < p.csr.num_edges(); ++t)
    for (std::int64_t h = 0; h < p.H; ++h)
      REQUIRE(wr.buffer()[t * p.H + h] == w.buffer()[p.rg.perm()[t] * p.H + h]);
  ops::unpermute_edges(p.rg.view(), wr.view(), back.view());
  REQUIRE(back.buffer().to_vector() == w.buffer().to_vector());
  REQUIRE_THROWS_WITH(ops::permute_edges(p.rg.reverse_order(), w.view(), wr.view()),
                      Catch::Contains("permutation"));

  const Tensor3<float> y = ta::tensor_from(ta::random_values(p.nodes(), 2), p.n, p.H, p.D);
  const Tensor3<float> x = ta::tensor_from(ta::random_values(p.nodes(), 3), p.n, p.H, p.D);
  Tensor3<float> a(p.n, p.H, p.D), b(p.n, p.H, p.D);
  ops::scatter_sum(p.rg.view(), w.view(), y.view(), a.view());
  ops::scatter_sum(p.rg.reverse_order(), wr.view(), y.view(), b.view());
  CHECK(g::rel(ta::to_vec(b), ta::to_vec(a)) <= 1e-6);
  Matrix<float> dw(p.csr.num_edges(), p.H), dwr(p.csr.num_edges(), p.H), dwb(p.csr.num_edges(), p.H);
  dw.buffer().zero();
  dwr.buffer().zero();
  ops::hop_backward(p.rg.view(), w.view(), 0.5f, y.view(), x.view(), 0.0f, {}, dw.view(), a.view());
  ops::hop_backward(p.rg.reverse_order(), wr.view(), 0.5f, y.view(), x.view(), 0.0f, {}, dwr.view(),
                    b.view());
  ops::unpermute_edges(p.rg.view(), dwr.view(), dwb.view());
  // The same bits through the permutation or without it: the hop memory modes (recompute reads
  // forward-order weights, store and keep reverse-order ones) rely on it.
  CHECK(ta::to_vec(b) == ta::to_vec(a));
  CHECK(ta::to_vec(dwb) == ta::to_vec(dw));
}

TEST_CASE("the transposed gather over reverse-ordered weights (the reverse graph's panels and hub rows)",
          "[cpu][attention][backward][levels]") {
  // On the CPU it runs the hop's gather over the reverse graph: panel chunks, hub rows (the recipe's
  // global tokens have in-degree N there) and per-row rows; z may be out itself.
  const auto D = GENERATE(64, 24);
  CAPTURE(D);
  const Csr csr = graphs::build_pattern("diffuser", 1100, 3);
  const ReverseGraph rg(csr);
  const std::int64_t n = csr.num_nodes(), E = csr.num_edges(), H = 3;
  const auto wv = ta::random_values(static_cast<std::size_t>(E * H), 5);
  const auto yv = ta::random_values(static_cast<std::size_t>(n * H * D), 6);
  const auto zv = ta::random_values(static_cast<std::size_t>(n * H * D), 7);
  const float a = 0.7f, b = -0.4f;
  // float64: out[j] = a sum_{e = j -> i} w[e] y[i] + b z[j], from the float32 inputs
  std::vector<double> ref(static_cast<std::size_t>(n * H * D));
  const auto f32 = [](double x) { return static_cast<double>(static_cast<float>(x)); };
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t t = rg.graph().row_ptr()[j]; t < rg.graph().row_ptr()[j + 1]; ++t) {
      const std::int64_t i = rg.graph().col()[t], e = rg.perm()[t];
      for (std::int64_t h = 0; h < H; ++h)
        for (std::int64_t d = 0; d < D; ++d)
          ref[(j * H + h) * D + d] += f32(wv[e * H + h]) * f32(yv[(i * H + h) * D + d]);
    }
  for (std::size_t u = 0; u < ref.size(); ++u) ref[u] = a * ref[u] + b * f32(zv[u]);

  const Matrix<float> w = ta::matrix_from(wv, E, H);
  Matrix<float> wr(E, H);
  ops::permute_edges(rg.view(), w.view(), wr.view());
  const Tensor3<float> y = ta::tensor_from(yv, n, H, D);
  for (const CpuIsa level : test::cpu_levels()) {
    CAPTURE(cpu_isa_name(level));
    std::vector<std::vector<double>> runs;
    for (const int threads : {1, 2, 3}) {
      Tensor3<float> out = ta::tensor_from(zv, n, H, D);  // z == out
      test::with_options(
          [&](ContextOptions& o) {
            o.cpu.isa = level;
            o.cpu.threads = threads;
            o.cpu.panels = true;
            o.cpu.hub_threshold = 600;
          },
          [&] { ops::scatter_axpby(rg.reverse_order(), wr.view(), a, y.view(), b, out.view(), out.view()); });
      runs.push_back(ta::to_vec(out));
      CHECK(g::rel(runs.back(), ref) <= 1e-6);
    }
    CHECK(runs[1] == runs[0]);  // bitwise across thread counts
    CHECK(runs[2] == runs[0]);
  }
}
