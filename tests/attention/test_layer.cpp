// The encoder layer: forward against the plain float64 implementation (grad_reference.hpp),
// its gradients (every parameter and the input) against finite differences in float64, the float32
// engine's gradients against the reference, batches, padding and dropout reproducibility.
#include <catch2/catch.hpp>

#include <diffuser/attention/layer.hpp>
#include <diffuser/attention/params.hpp>
#include <diffuser/engine/error.hpp>

#include "attention/attention_test_util.hpp"
#include "attention/layer_reference.hpp"

using namespace diffuser;
using namespace diffuser::attention;
namespace g = diffuser::test::grad;
namespace ta = diffuser::test::attn;

namespace {

constexpr const char* kPattern = "window:2+global-at:0+random:2";

struct Setup {
  LayerOptions o;
  LayerParams p;
  GraphBatch batch;
  g::LayerSpec spec;
  std::vector<double> x, dy;
  std::vector<std::uint8_t> mask;

  Setup(bool pre_ln, bool dropout, std::vector<std::int64_t> lengths, diffusion::Coefficients c,
        bool masked = false, std::int64_t d = 8, std::int64_t H = 2, std::int64_t I = 16)
      : batch(GraphBatch::from_lengths(lengths, kPattern, 3)) {
    o.d_model = d;
    o.heads = H;
    o.intermediate = I;
    o.pre_layer_norm = pre_ln;
    o.coefficients = c;
    if (dropout) {
      o.p_hidden = 0.1f;
      o.p_attn_weights = 0.2f;
      o.p_attn_hops = 0.15f;
    }
    p = LayerParams(o.shape());
    init_layer(p, 0.4, 11, 0);
    // Non-trivial LayerNorm parameters and biases (the init sets them to 1 and 0).
    std::uint64_t k = 0;
    visit(p, "", [&](const std::string& name, float* data, const std::vector<std::int64_t>& shape) {
      if (name.find("weight") != std::string::npos && name.find("LayerNorm") == std::string::npos) return;
      std::int64_t n = 1;
      for (auto s : shape) n *= s;
      for (std::int64_t i = 0; i < n; ++i)
        data[i] += static_cast<float>(0.2 * rng::normal(21, k, static_cast<std::uint64_t>(i)));
      ++k;
    });
    const std::int64_t T = batch.tokens();
    x = ta::random_values(static_cast<std::size_t>(T * d), 5);
    dy = ta::random_values(static_cast<std::size_t>(T * d), 6);
    if (masked) {
      mask.assign(static_cast<std::size_t>(T), 1);
      mask[2] = mask[static_cast<std::size_t>(T - 1)] = 0;
      batch.mask = Buffer<std::uint8_t>::from_host(mask);
    }
    spec.T = T;
    spec.d = d;
    spec.H = H;
    spec.I = I;
    spec.eps = o.layer_norm_eps;
    spec.pre_ln = pre_ln;
    spec.coeffs = c;
    spec.p_hidden = o.p_hidden;
    spec.p_weights = o.p_attn_weights;
    spec.p_hops = o.p_attn_hops;
    spec.training = dropout;
    spec.seed = 42;
    spec.layer = 3;
  }
  RunMode mode() const { return RunMode{spec.training, spec.seed, spec.layer}; }
  MatrixView<const float> xview(const Matrix<float>& m) const { return m.view(); }
};

void check_layer(Setup& s) {
  const g::Graph graph(s.batch.graph);
  auto w = g::weights_of<double>(s.p);
  // Forward: engine vs the plain float64 layer.
  const Matrix<float> xm = ta::matrix_from(s.x, s.spec.T, s.spec.d);
  Matrix<float> y(s.spec.T, s.spec.d);
  LayerCache cache;
  layer_forward(s.o, s.p, s.batch, xm.view(), y.view(), s.mode(), &cache);
  const auto y_ref = g::layer(graph, s.spec, w, s.x, s.mask);
  CHECK(g::rel(ta::to_vec(y), y_ref) <= 2e-5);

  // Reference gradients against finite differences, for the input and every parameter tensor.
  auto gw = g::zeros_like(w);
  auto x = s.x;
  const auto dx_ref = g::layer_backward(graph, s.spec, w, x, s.mask, s.dy, gw);
  auto loss = [&] { return g::dot(s.dy, g::layer(graph, s.spec, w, x, s.mask)); };
  CHECK(g::fd_check(loss, x, dx_ref, g::sample_coords(x.size(), 40, 1)) <= 1e-6);
  auto params = w.all();
  auto grads = gw.all();
  for (std::size_t t = 0; t < params.size(); ++t) {
    CAPTURE(t);
    CHECK(g::fd_check(loss, *params[t], *grads[t], g::sample_coords(params[t]->size(), 24, 10 + t)) <= 1e-6);
  }

  // Engine gradients against the reference.
  LayerParams eg(s.o.shape());
  zero(eg);
  Matrix<float> dx(s.spec.T, s.spec.d);
  const Matrix<float> dym = ta::matrix_from(s.dy, s.spec.T, s.spec.d);
  layer_backward(s.o, s.p, s.batch, xm.view(), cache, dym.view(), dx.view(), eg, s.mode());
  CHECK(g::rel(ta::to_vec(dx), dx_ref) <= 1e-4);
  auto ew = g::weights_of<double>(eg);
  auto egs = ew.all();
  for (std::size_t t = 0; t < grads.size(); ++t) {
    CAPTURE(t);
    CHECK(g::rel(*egs[t], *grads[t]) <= 1e-4);
  }
}

}  // namespace

TEST_CASE("post-LN encoder layer: forward and gradients, reference vs finite differences vs engine",
          "[cpu][attention][layer]") {
  const bool dropout = GENERATE(false, true);
  CAPTURE(dropout);
  Setup s(false, dropout, {6, 9}, diffusion::Coefficients::ppr(3, 0.1), true);
  check_layer(s);
}

TEST_CASE("pre-LN encoder layer: forward and gradients, reference vs finite differences vs engine",
          "[cpu][attention][layer]") {
  const bool dropout = GENERATE(false, true);
  CAPTURE(dropout);
  Setup s(true, dropout, {7, 5}, diffusion::Coefficients::ppr(2, 0.2));
  check_layer(s);
}

TEST_CASE("encoder layer with plain attention and with the heat kernel", "[cpu][attention][layer]") {
  Setup a(false, true, {10}, diffusion::Coefficients::ppr(0, 0.1));
  check_layer(a);
  Setup b(false, false, {4, 8}, diffusion::Coefficients::heat(3, 1.2), true, 12, 3, 8);
  check_layer(b);
}

TEST_CASE("a block-diagonal batch equals its sequences run one by one", "[cpu][attention][layer]") {
  Setup s(false, false, {9, 14, 5}, diffusion::Coefficients::ppr(4, 0.1), false, 16, 2, 32);
  const std::int64_t d = s.o.d_model, T = s.batch.tokens();
  const Matrix<float> xm = ta::matrix_from(s.x, T, d);
  Matrix<float> y(T, d);
  layer_forward(s.o, s.p, s.batch, xm.view(), y.view(), {}, nullptr);
  std::int64_t at = 0;
  for (std::int64_t len : {9, 14, 5}) {
    GraphBatch one = GraphBatch::from_lengths({len}, kPattern, 3);
    Matrix<float> xo(len, d), yo(len, d);
    std::copy(xm.view().row(at), xm.view().row(at + len), xo.buffer().data());
    layer_forward(s.o, s.p, one, xo.view(), yo.view(), {}, nullptr);
    std::vector<double> a(y.view().row(at), y.view().row(at + len)), b = ta::to_vec(yo);
    CHECK(g::rel(a, b) <= 1e-6);
    at += len;
  }
}

TEST_CASE("padding: a padded batch with a mask gives the real tokens the unpadded outputs",
          "[cpu][attention][layer]") {
  LayerOptions o;
  o.d_model = 16;
  o.heads = 4;
  o.intermediate = 24;
  o.coefficients = diffusion::Coefficients::ppr(3, 0.1);
  LayerParams p(o.shape());
  init_layer(p, 0.3, 2, 0);
  const std::int64_t N = 10, real2 = 6;
  std::vector<std::uint8_t> mask(2 * N, 1);
  for (std::int64_t i = real2; i < N; ++i) mask[static_cast<std::size_t>(N + i)] = 0;
  const GraphBatch padded = GraphBatch::padded(2, N, "window:2", 0, mask);
  const GraphBatch packed = GraphBatch::from_lengths({N, real2}, "window:2", 0);
  const auto xv = ta::random_values(static_cast<std::size_t>(2 * N * 16), 3);
  const Matrix<float> xp = ta::matrix_from(xv, 2 * N, 16);
  Matrix<float> xu(N + real2, 16), yp(2 * N, 16), yu(N + real2, 16);
  std::copy(xp.buffer().data(), xp.buffer().data() + (N + real2) * 16, xu.buffer().data());
  layer_forward(o, p, padded, xp.view(), yp.view(), {}, nullptr);
  layer_forward(o, p, packed, xu.view(), yu.view(), {}, nullptr);
  std::vector<double> a(yp.buffer().data(), yp.buffer().data() + (N + real2) * 16);
  CHECK(g::rel(a, ta::to_vec(yu)) <= 1e-6);
}

TEST_CASE("dropout: off is deterministic and seed-free, on is reproducible from the seed",
          "[cpu][attention][layer]") {
  Setup s(false, true, {12, 7}, diffusion::Coefficients::ppr(3, 0.1), false, 16, 2, 32);
  const std::int64_t d = s.o.d_model, T = s.batch.tokens();
  const Matrix<float> xm = ta::matrix_from(s.x, T, d);
  auto run = [&](RunMode m) {
    Matrix<float> y(T, d);
    LayerCache cache;
    layer_forward(s.o, s.p, s.batch, xm.view(), y.view(), m, &cache);
    LayerParams gr(s.o.shape());
    zero(gr);
    Matrix<float> dx(T, d);
    const Matrix<float> dym = ta::matrix_from(s.dy, T, d);
    layer_backward(s.o, s.p, s.batch, xm.view(), cache, dym.view(), dx.view(), gr, m);
    auto v = y.buffer().to_vector();
    auto w = dx.buffer().to_vector();
    v.insert(v.end(), w.begin(), w.end());
    visit(gr, "", [&](const std::string&, float* data, const std::vector<std::int64_t>& shape) {
      std::int64_t n = 1;
      for (auto q : shape) n *= q;
      v.insert(v.end(), data, data + n);
    });
    return v;
  };
  const auto eval1 = run({false, 1, 0}), eval2 = run({false, 99, 0});
  REQUIRE(eval1 == eval2);
  const auto train1 = run({true, 5, 0}), train2 = run({true, 5, 0}), train3 = run({true, 6, 0});
  REQUIRE(train1 == train2);
  REQUIRE(train1 != train3);
  REQUIRE(train1 != eval1);
  const auto layer1 = run({true, 5, 1});  // another layer index draws other masks
  REQUIRE(layer1 != train1);
}

TEST_CASE("hop memory: store, recompute and keep give identical layer gradients", "[cpu][attention][layer]") {
  Setup s(false, true, {20}, diffusion::Coefficients::ppr(5, 0.1), false, 16, 2, 16);
  const std::int64_t d = s.o.d_model, T = s.batch.tokens();
  const Matrix<float> xm = ta::matrix_from(s.x, T, d), dym = ta::matrix_from(s.dy, T, d);
  std::vector<float> out[3];
  for (int m = 0; m < 3; ++m) {
    LayerOptions o = s.o;
    o.hop_memory = m == 0   ? diffusion::HopMemory::store
                   : m == 1 ? diffusion::HopMemory::recompute
                            : diffusion::HopMemory::keep;
    Matrix<float> y(T, d), dx(T, d);
    LayerCache cache;
    layer_forward(o, s.p, s.batch, xm.view(), y.view(), s.mode(), &cache);
    CHECK(cache.bytes() == layer_cache_bytes(o, T, s.batch.graph.num_edges()));
    LayerParams gr(o.shape());
    zero(gr);
    layer_backward(o, s.p, s.batch, xm.view(), cache, dym.view(), dx.view(), gr, s.mode());
    out[m] = dx.buffer().to_vector();
  }
  REQUIRE(out[0] == out[1]);
  REQUIRE(out[0] == out[2]);
}

TEST_CASE("layer argument errors", "[cpu][attention][layer]") {
  Setup s(false, false, {8}, diffusion::Coefficients::ppr(2, 0.1));
  Matrix<float> x(8, 8), wrong(7, 8), y(8, 8);
  REQUIRE_THROWS_WITH(layer_forward(s.o, s.p, s.batch, wrong.view(), wrong.view(), {}, nullptr),
                      Catch::Contains("tokens") || Catch::Contains("input"));
  LayerCache empty;
  LayerParams gr(s.o.shape());
  REQUIRE_THROWS_WITH(layer_backward(s.o, s.p, s.batch, x.view(), empty, y.view(), x.view(), gr, {}),
                      Catch::Contains("cache"));
  LayerOptions bad = s.o;
  bad.intermediate = 5;
  REQUIRE_THROWS_WITH(layer_forward(bad, s.p, s.batch, x.view(), y.view(), {}, nullptr),
                      Catch::Contains("parameters"));
  // An input on another device than the parameters and graph is refused before anything runs.
  const MatrixView<const float> gx{reinterpret_cast<const float*>(0x1000), 8, 8, Device::cuda};
  const MatrixView<float> gy{reinterpret_cast<float*>(0x2000), 8, 8, Device::cuda};
  REQUIRE_THROWS_WITH(layer_forward(s.o, s.p, s.batch, gx, gy, {}, nullptr),
                      Catch::Contains("the input is on cuda but the parameters are on cpu"));
  REQUIRE_THROWS_WITH(layer_forward(s.o, s.p, s.batch, x.view(), gy, {}, nullptr),
                      Catch::Contains("the output is on cuda"));
}
