// The layer on the GPU against the same layer on the CPU: every dense primitive (cuBLAS products,
// LayerNorm, GELU, bias, column sums, axpby) and the whole encoder layer forward + backward (output,
// dX and every parameter gradient, dropout on: the same masks on both), at <= 1e-5 relative error.
// Without a usable GPU each case prints SKIPPED and exits 77 under ctest (DIFFUSER_TEST_SKIP_EXIT),
// or returns when run by hand.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include <diffuser/attention/layer.hpp>
#include <diffuser/attention/params.hpp>
#include <diffuser/engine/baselines.hpp>
#include <diffuser/engine/dense.hpp>
#include <diffuser/engine/device.hpp>

#include "attention/attention_test_util.hpp"
#include "attention/grad_reference.hpp"
#include "attention/layer_reference.hpp"

using namespace diffuser;
using namespace diffuser::attention;
namespace g = diffuser::test::grad;
namespace ta = diffuser::test::attn;

namespace {

bool skip_without_gpu() {
  std::string why;
  if (cuda_available(&why)) return false;
  std::printf("SKIPPED: no CUDA device (%s)\n", why.c_str());
  std::fflush(stdout);
  if (std::getenv("DIFFUSER_TEST_SKIP_EXIT")) std::exit(77);
  return true;
}

constexpr Device kGpu = Device::cuda;

Matrix<float> random_matrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed, double scale = 1.0) {
  return ta::matrix_from(ta::random_values(static_cast<std::size_t>(rows * cols), seed, scale), rows, cols);
}

Matrix<float> to_device(const Matrix<float>& m, Device d) {
  Matrix<float> r(m.rows(), m.cols(), d);
  device_copy(r.buffer().data(), d, m.buffer().data(), m.device(), m.buffer().bytes());
  return r;
}

std::vector<double> host(const Matrix<float>& m) {
  const auto v = m.buffer().to_vector();
  return std::vector<double>(v.begin(), v.end());
}
std::vector<double> host(const Buffer<float>& b) {
  const auto v = b.to_vector();
  return std::vector<double>(v.begin(), v.end());
}

}  // namespace

TEST_CASE("CUDA gemm (cuBLAS, row-major) matches the CPU in every transpose", "[cuda][attention][dense]") {
  if (skip_without_gpu()) return;
  struct Dims {
    std::int64_t m, n, k;
  };
  for (const Dims s : {Dims{37, 53, 29}, Dims{1, 7, 300}, Dims{300, 768, 64}, Dims{129, 33, 1}})
    for (bool ta_ : {false, true})
      for (bool tb : {false, true})
        for (float beta : {0.0f, 0.5f}) {
          CAPTURE(s.m, s.n, s.k, ta_, tb, beta);
          const Matrix<float> a = ta_ ? random_matrix(s.k, s.m, 1) : random_matrix(s.m, s.k, 1);
          const Matrix<float> b = tb ? random_matrix(s.n, s.k, 2) : random_matrix(s.k, s.n, 2);
          Matrix<float> c = random_matrix(s.m, s.n, 3);
          const Matrix<float> ag = to_device(a, kGpu), bg = to_device(b, kGpu);
          Matrix<float> cg = to_device(c, kGpu);
          if (beta == 0.0f) {  // beta = 0 must ignore NaN in C
            std::fill(c.buffer().begin(), c.buffer().end(), std::numeric_limits<float>::quiet_NaN());
            cg = to_device(c, kGpu);
          }
          diffuser::dense::gemm(ta_, tb, 0.7f, a.view(), b.view(), beta, c.view());
          diffuser::dense::gemm(ta_, tb, 0.7f, ag.view(), bg.view(), beta, cg.view());
          CHECK(g::rel(host(cg), ta::to_vec(c)) <= 1e-5);
        }
  // k = 0: C = beta C on the device too.
  Matrix<float> a0(4, 0, kGpu), b0(0, 5, kGpu);
  const Matrix<float> c0 = random_matrix(4, 5, 4);
  Matrix<float> c0g = to_device(c0, kGpu);
  diffuser::dense::gemm(false, false, 1.0f, a0.view(), b0.view(), 2.0f, c0g.view());
  const auto got = host(c0g);
  for (std::size_t i = 0; i < got.size(); ++i)
    CHECK(got[i] == 2.0 * c0.buffer()[static_cast<std::int64_t>(i)]);
}

TEST_CASE("CUDA bias, column sums, GELU, tanh and axpby match the CPU", "[cuda][attention][dense]") {
  if (skip_without_gpu()) return;
  for (const auto& [rows, cols] :
       {std::pair<std::int64_t, std::int64_t>{1000, 300}, {5, 3}, {128, 768}, {129, 1}}) {
    CAPTURE(rows, cols);
    const Matrix<float> x = random_matrix(rows, cols, 5, 2.0), y = random_matrix(rows, cols, 6);
    const Matrix<float> xg = to_device(x, kGpu), yg = to_device(y, kGpu);
    // Column sums: the same fixed order on both backends, so the same bits.
    Buffer<float> s(cols), sg(cols, kGpu), dt(cols), dtg(cols, kGpu);
    diffuser::dense::column_sums(x.view(), s.span(), false);
    diffuser::dense::column_sums(xg.view(), sg.span(), false);
    CHECK(sg.to_vector() == s.to_vector());
    diffuser::dense::column_sums(y.view(), s.span(), true);
    diffuser::dense::column_sums(yg.view(), sg.span(), true);
    CHECK(sg.to_vector() == s.to_vector());
    diffuser::dense::column_dot(x.view(), y.view(), dt.span(), false);
    diffuser::dense::column_dot(xg.view(), yg.view(), dtg.span(), false);
    CHECK(g::rel(host(dtg), host(dt)) <= 1e-6);

    Matrix<float> b = random_matrix(rows, cols, 7);
    Matrix<float> bg = to_device(b, kGpu);
    const Buffer<float> bias = Buffer<float>::from_host(s.to_vector()), biasg = bias.to(kGpu);
    diffuser::dense::bias_add(b.view(), bias.span());
    diffuser::dense::bias_add(bg.view(), biasg.span());
    CHECK(bg.buffer().to_vector() == b.buffer().to_vector());

    Matrix<float> o(rows, cols), og(rows, cols, kGpu), d(rows, cols), dg(rows, cols, kGpu);
    diffuser::dense::gelu_forward(x.view(), o.view());
    diffuser::dense::gelu_forward(xg.view(), og.view());
    CHECK(g::rel(host(og), host(o)) <= 1e-6);
    diffuser::dense::gelu_backward(x.view(), y.view(), d.view());
    diffuser::dense::gelu_backward(xg.view(), yg.view(), dg.view());
    CHECK(g::rel(host(dg), host(d)) <= 1e-6);
    diffuser::dense::gelu_backward(xg.view(), dg.view(), dg.view());  // in place (dx = dy)
    diffuser::dense::gelu_backward(x.view(), d.view(), d.view());
    CHECK(g::rel(host(dg), host(d)) <= 1e-6);
    diffuser::dense::tanh_forward(x.view(), o.view());
    diffuser::dense::tanh_forward(xg.view(), og.view());
    CHECK(g::rel(host(og), host(o)) <= 1e-6);
    diffuser::dense::tanh_backward(o.view(), y.view(), d.view());
    diffuser::dense::tanh_backward(og.view(), yg.view(), dg.view());
    CHECK(g::rel(host(dg), host(d)) <= 1e-6);

    diffuser::dense::axpby(0.5f, diffuser::dense::flat(x.view()), -2.0f, diffuser::dense::flat(y.view()),
                           diffuser::dense::flat(o.view()));
    diffuser::dense::axpby(0.5f, diffuser::dense::flat(xg.view()), -2.0f, diffuser::dense::flat(yg.view()),
                           diffuser::dense::flat(og.view()));
    CHECK(g::rel(host(og), host(o)) <= 1e-6);
    diffuser::dense::axpby(3.0f, diffuser::dense::flat(MatrixView<const float>(o.view())), 0.0f, {},
                           diffuser::dense::flat(o.view()));
    diffuser::dense::axpby(3.0f, diffuser::dense::flat(MatrixView<const float>(og.view())), 0.0f, {},
                           diffuser::dense::flat(og.view()));
    CHECK(g::rel(host(og), host(o)) <= 1e-6);
    diffuser::dense::add(x.view(), y.view(), o.view());
    diffuser::dense::add(xg.view(), yg.view(), og.view());
    CHECK(og.buffer().to_vector() == o.buffer().to_vector());
    diffuser::dense::copy(xg.view(), dg.view());
    diffuser::dense::add(yg.view(), dg.view());
    diffuser::dense::copy(x.view(), d.view());
    diffuser::dense::add(y.view(), d.view());
    CHECK(dg.buffer().to_vector() == d.buffer().to_vector());
  }
}

TEST_CASE("CUDA LayerNorm forward, apply and backward match the CPU", "[cuda][attention][dense]") {
  if (skip_without_gpu()) return;
  for (std::int64_t cols : {1, 20, 64, 300, 768}) {
    const std::int64_t rows = 77;
    CAPTURE(cols);
    const Matrix<float> x = random_matrix(rows, cols, 9, 3.0), dy = random_matrix(rows, cols, 10);
    const Matrix<float> xg = to_device(x, kGpu), dyg = to_device(dy, kGpu);
    const Buffer<float> gamma = Buffer<float>::from_host(random_matrix(1, cols, 11).buffer().to_vector());
    const Buffer<float> beta = Buffer<float>::from_host(random_matrix(1, cols, 12).buffer().to_vector());
    const Buffer<float> gammag = gamma.to(kGpu), betag = beta.to(kGpu);
    Matrix<float> y(rows, cols), xh(rows, cols), yg(rows, cols, kGpu), xhg(rows, cols, kGpu);
    Buffer<float> r(rows), rg(rows, kGpu);
    diffuser::dense::layer_norm_forward(x.view(), gamma.span(), beta.span(), 1e-5f, y.view(), xh.view(),
                                        r.span());
    diffuser::dense::layer_norm_forward(xg.view(), gammag.span(), betag.span(), 1e-5f, yg.view(), xhg.view(),
                                        rg.span());
    CHECK(g::rel(host(yg), host(y)) <= 1e-6);
    CHECK(g::rel(host(xhg), host(xh)) <= 1e-6);
    CHECK(g::rel(host(rg), host(r)) <= 1e-6);
    Matrix<float> ya(rows, cols, kGpu);
    diffuser::dense::layer_norm_apply(xhg.view(), gammag.span(), betag.span(), ya.view());
    CHECK(g::rel(host(ya), host(y)) <= 1e-6);
    Matrix<float> inplace = to_device(x, kGpu);  // y = x itself, no xhat or rstd
    diffuser::dense::layer_norm_forward(inplace.view(), gammag.span(), betag.span(), 1e-5f, inplace.view(),
                                        {}, {});
    CHECK(g::rel(host(inplace), host(y)) <= 1e-6);

    for (bool acc : {false, true}) {
      CAPTURE(acc);
      Matrix<float> dx = random_matrix(rows, cols, 13);
      Matrix<float> dxg = to_device(dx, kGpu);
      Buffer<float> dga = Buffer<float>::from_host(std::vector<float>(static_cast<std::size_t>(cols), 0.25f));
      Buffer<float> dbe = Buffer<float>::from_host(std::vector<float>(static_cast<std::size_t>(cols), -0.5f));
      Buffer<float> dgag = dga.to(kGpu), dbeg = dbe.to(kGpu);
      diffuser::dense::layer_norm_backward(xh.view(), r.span(), gamma.span(), dy.view(), dx.view(), acc,
                                           dga.span(), dbe.span());
      diffuser::dense::layer_norm_backward(xhg.view(), rg.span(), gammag.span(), dyg.view(), dxg.view(), acc,
                                           dgag.span(), dbeg.span());
      CHECK(g::rel(host(dxg), host(dx)) <= 1e-5);
      CHECK(g::rel(host(dgag), host(dga)) <= 1e-6);
      CHECK(dbeg.to_vector() == dbe.to_vector());
    }
  }
}

namespace {

struct LayerCase {
  LayerOptions o;
  LayerParams p;
  GraphBatch batch;
  Matrix<float> x, dy;
  RunMode mode;
};

LayerCase make_case(std::int64_t d, std::int64_t H, std::int64_t I, const std::vector<std::int64_t>& lengths,
                    const std::string& pattern, bool pre_ln, bool dropout, bool masked,
                    diffusion::Coefficients c, diffusion::HopMemory memory = diffusion::HopMemory::store) {
  LayerCase k{{}, {}, GraphBatch::from_lengths(lengths, pattern, 3), {}, {}, {}};
  k.o.d_model = d;
  k.o.heads = H;
  k.o.intermediate = I;
  k.o.pre_layer_norm = pre_ln;
  k.o.coefficients = c;
  k.o.hop_memory = memory;
  if (dropout) {
    k.o.p_hidden = 0.1f;
    k.o.p_attn_weights = 0.15f;
    k.o.p_attn_hops = 0.1f;
  }
  k.p = LayerParams(k.o.shape());
  init_layer(k.p, 0.05, 7, 0);
  // Non-trivial biases and LayerNorm parameters (the init gives 0 and 1).
  std::uint64_t s = 0;
  visit(k.p, "", [&](const std::string& name, float* data, const std::vector<std::int64_t>& shape) {
    if (name.find("weight") != std::string::npos && name.find("LayerNorm") == std::string::npos) return;
    std::int64_t n = 1;
    for (auto v : shape) n *= v;
    for (std::int64_t i = 0; i < n; ++i)
      data[i] += static_cast<float>(0.1 * rng::normal(5, s, static_cast<std::uint64_t>(i)));
    ++s;
  });
  const std::int64_t T = k.batch.tokens();
  if (masked) {
    std::vector<std::uint8_t> mask(static_cast<std::size_t>(T), 1);
    mask[1] = mask[static_cast<std::size_t>(T - 1)] = mask[static_cast<std::size_t>(T / 2)] = 0;
    k.batch.mask = Buffer<std::uint8_t>::from_host(mask);
  }
  k.x = random_matrix(T, d, 21);
  k.dy = random_matrix(T, d, 22);
  k.mode = RunMode{dropout, 42, 2};
  return k;
}

struct LayerResult {
  std::vector<double> y, dx;
  std::vector<std::vector<double>> grads;  // the 12 tensors, layer_reference.hpp's order
};

LayerResult run_layer(const LayerCase& k, Device dev) {
  const LayerParams p = k.p.to(dev);
  const GraphBatch batch = k.batch.to(dev);
  const Matrix<float> x = to_device(k.x, dev), dy = to_device(k.dy, dev);
  const std::int64_t T = x.rows(), d = x.cols();
  Matrix<float> y(T, d, dev), dx(T, d, dev);
  LayerCache cache;
  layer_forward(k.o, p, batch, x.view(), y.view(), k.mode, &cache);
  LayerParams gr(k.o.shape(), dev);
  zero(gr);
  layer_backward(k.o, p, batch, x.view(), cache, dy.view(), dx.view(), gr, k.mode);
  LayerResult r;
  r.y = host(y);
  r.dx = host(dx);
  LayerParams gh = gr.to(Device::cpu);
  auto w = g::weights_of<double>(gh);
  for (auto* t : w.all()) r.grads.push_back(*t);
  return r;
}

void check_same(const LayerResult& gpu, const LayerResult& cpu, double tol) {
  CHECK(g::rel(gpu.y, cpu.y) <= tol);
  CHECK(g::rel(gpu.dx, cpu.dx) <= tol);
  const char* names[] = {"qkv.w",    "qkv.b",    "attn_out.w", "attn_out.b", "ln1.gamma", "ln1.beta",
                         "ffn_in.w", "ffn_in.b", "ffn_out.w",  "ffn_out.b",  "ln2.gamma", "ln2.beta"};
  REQUIRE(gpu.grads.size() == cpu.grads.size());
  for (std::size_t t = 0; t < cpu.grads.size(); ++t) {
    CAPTURE(names[t]);
    CHECK(g::rel(gpu.grads[t], cpu.grads[t]) <= tol);
  }
}

}  // namespace

TEST_CASE("CUDA encoder layer forward + backward match the CPU (post-LN, pre-LN, dropout, mask, batch)",
          "[cuda][attention][layer]") {
  if (skip_without_gpu()) return;
  const auto ppr = diffusion::Coefficients::ppr(5, 0.1);
  SECTION("post-LN, dropout, padding mask, block-diagonal batch") {
    const auto k = make_case(64, 4, 128, {70, 45}, "window:4+global-at:0+random:5", false, true, true, ppr);
    check_same(run_layer(k, kGpu), run_layer(k, Device::cpu), 1e-5);
  }
  SECTION("pre-LN, no dropout") {
    const auto k = make_case(48, 3, 96, {90}, "window:3+global-at:0,7+random:4", true, false, false, ppr);
    check_same(run_layer(k, kGpu), run_layer(k, Device::cpu), 1e-5);
  }
  SECTION("pre-LN with dropout, hop memory keep and recompute") {
    for (auto mem : {diffusion::HopMemory::keep, diffusion::HopMemory::recompute}) {
      const auto k =
          make_case(32, 2, 64, {50, 31}, "window:2+global-at:0+random:3", true, true, false, ppr, mem);
      check_same(run_layer(k, kGpu), run_layer(k, Device::cpu), 1e-5);
    }
  }
  SECTION("plain attention (K = 0) and the heat kernel") {
    const auto a = make_case(32, 4, 64, {60}, "window:5+random:3", false, true, false,
                             diffusion::Coefficients::ppr(0, 0.1));
    check_same(run_layer(a, kGpu), run_layer(a, Device::cpu), 1e-5);
    const auto b = make_case(32, 2, 64, {40, 40}, "window:3+global-at:1", false, false, true,
                             diffusion::Coefficients::heat(3, 1.0));
    check_same(run_layer(b, kGpu), run_layer(b, Device::cpu), 1e-5);
  }
}

TEST_CASE("CUDA encoder layer at the benchmark's shape: d_model 768, 12 heads, the authors' graph recipe",
          "[cuda][attention][layer][large]") {
  if (skip_without_gpu()) return;
  // N = 512 with blocks:64+random:64+global-random:64: hub rows and columns of degree N, D = 64.
  const auto k =
      make_case(768, 12, 3072, {512}, "diffuser", false, true, false, diffusion::Coefficients::ppr(5, 0.1));
  const LayerResult gpu = run_layer(k, kGpu);
  check_same(gpu, run_layer(k, Device::cpu), 1e-5);
  // No atomics anywhere: a second GPU run gives the same bits.
  const LayerResult again = run_layer(k, kGpu);
  CHECK(again.y == gpu.y);
  CHECK(again.dx == gpu.dx);
  CHECK(again.grads == gpu.grads);
}

TEST_CASE("CUDA layer: peak device memory is counted and operands on the wrong device are refused",
          "[cuda][attention][layer]") {
  if (skip_without_gpu()) return;
  const auto k = make_case(64, 4, 128, {300}, "window:4+random:4", false, true, false,
                           diffusion::Coefficients::ppr(5, 0.1));
  const LayerParams p = k.p.to(kGpu);
  const GraphBatch batch = k.batch.to(kGpu);
  const Matrix<float> x = to_device(k.x, kGpu);
  Matrix<float> y(300, 64, kGpu);
  // A first run creates what lives for the process (the cuBLAS handle and workspace, cached plans).
  layer_forward(k.o, p, batch, x.view(), y.view(), k.mode, nullptr);
  synchronize(kGpu);
  const std::int64_t before = baselines::device_bytes_in_use();
  baselines::reset_peak_device_bytes();
  {
    LayerCache cache;
    layer_forward(k.o, p, batch, x.view(), y.view(), k.mode, &cache);
    CHECK(baselines::device_bytes_in_use() - before == cache.bytes());
  }
  CHECK(baselines::peak_device_bytes() - before >= layer_cache_bytes(k.o, 300, batch.graph.num_edges()));
  CHECK(baselines::device_bytes_in_use() == before);
  // CPU parameters with a GPU input, a CPU graph with a GPU input.
  REQUIRE_THROWS_WITH(layer_forward(k.o, k.p, batch, x.view(), y.view(), k.mode, nullptr),
                      Catch::Contains("the input is on cuda but the parameters are on cpu"));
  REQUIRE_THROWS_WITH(layer_forward(k.o, p, k.batch, x.view(), y.view(), k.mode, nullptr),
                      Catch::Contains("the input is on cuda but the batch graph is on cpu"));
}
