// The CUDA gradient primitives and the diffusion backward against the CPU ones (<= 1e-5), and the
// dropout masks bit for bit. Without a usable GPU each case prints SKIPPED and exits 77 under
// ctest (DIFFUSER_TEST_SKIP_EXIT), or returns when run by hand.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/engine/ops_backward.hpp>

#include "attention/attention_test_util.hpp"
#include "attention/grad_reference.hpp"

using namespace diffuser;
namespace g = diffuser::test::grad;
namespace ta = diffuser::test::attn;

namespace {

// True when the case must stop: no usable CUDA device.
bool skip_without_gpu() {
  std::string why;
  if (cuda_available(&why)) return false;
  std::printf("SKIPPED: no CUDA device (%s)\n", why.c_str());
  std::fflush(stdout);
  if (std::getenv("DIFFUSER_TEST_SKIP_EXIT")) std::exit(77);
  return true;
}

struct GpuMatrix {
  Buffer<float> buf;
  std::int64_t rows, cols;
  GpuMatrix(const Matrix<float>& m) : buf(m.buffer().to(Device::cuda)), rows(m.rows()), cols(m.cols()) {}
  MatrixView<float> view() { return {buf.data(), rows, cols, Device::cuda}; }
  std::vector<double> host() const {
    const auto v = buf.to_vector();
    return std::vector<double>(v.begin(), v.end());
  }
};

std::vector<double> host(const Tensor3<float>& t) {
  return ta::to_vec(t.to(Device::cpu));
}

struct Problem {
  Csr cpu_graph, gpu_graph;
  ReverseGraph cpu_rg, gpu_rg;
  std::int64_t n, H, D;
  Problem(std::int64_t n_, std::int64_t H_, std::int64_t D_, std::uint64_t seed)
      : cpu_graph(ta::test_graph(n_, 6, seed)),
        gpu_graph(cpu_graph.to(Device::cuda)),
        cpu_rg(cpu_graph),
        gpu_rg(gpu_graph),
        n(n_),
        H(H_),
        D(D_) {}
  Tensor3<float> nodes(std::uint64_t seed) const {
    return ta::tensor_from(ta::random_values(static_cast<std::size_t>(n * H * D), seed), n, H, D);
  }
  Matrix<float> edges(std::uint64_t seed) const {
    return ta::matrix_from(ta::random_values(static_cast<std::size_t>(cpu_graph.num_edges() * H), seed),
                           cpu_graph.num_edges(), H);
  }
};

}  // namespace

TEST_CASE("CUDA scatter, softmax backward, hop backward and score backward match the CPU",
          "[cuda][attention][backward]") {
  if (skip_without_gpu()) return;
  const auto D = GENERATE(16, 64, 128, 12);
  CAPTURE(D);
  Problem p(700, 4, D, 3);
  const Matrix<float> w = p.edges(1), grad = p.edges(2);
  const Tensor3<float> y = p.nodes(3), x = p.nodes(4), z = p.nodes(5);
  GpuMatrix wg(w), gg(grad);
  const Tensor3<float> yg = y.to(Device::cuda), xg = x.to(Device::cuda), zg = z.to(Device::cuda);

  Tensor3<float> out(p.n, p.H, p.D), outg(p.n, p.H, p.D, Device::cuda);
  ops::scatter_axpby(p.cpu_rg.view(), w.view(), 0.8f, y.view(), 0.3f, z.view(), out.view());
  ops::scatter_axpby(p.gpu_rg.view(), wg.view(), 0.8f, yg.view(), 0.3f, zg.view(), outg.view());
  CHECK(g::rel(host(outg), ta::to_vec(out)) <= 1e-5);

  Matrix<float> gc = p.edges(2);
  ops::edge_softmax_backward(p.cpu_graph.view(), w.view(), gc.view());
  ops::edge_softmax_backward(p.gpu_graph.view(), wg.view(), gg.view());
  CHECK(g::rel(gg.host(), ta::to_vec(gc)) <= 1e-5);

  Matrix<float> dw = p.edges(6);
  GpuMatrix dwg(dw);
  ops::hop_backward(p.cpu_rg.view(), w.view(), 0.9f, y.view(), x.view(), 1.0f, z.view(), dw.view(),
                    out.view());
  ops::hop_backward(p.gpu_rg.view(), wg.view(), 0.9f, yg.view(), xg.view(), 1.0f, zg.view(), dwg.view(),
                    outg.view());
  CHECK(g::rel(host(outg), ta::to_vec(out)) <= 1e-5);
  CHECK(g::rel(dwg.host(), ta::to_vec(dw)) <= 1e-5);

  Matrix<float> sc = p.edges(7);
  GpuMatrix sg(sc);
  Tensor3<float> dq(p.n, p.H, p.D), dk(p.n, p.H, p.D), dqg(p.n, p.H, p.D, Device::cuda),
      dkg(p.n, p.H, p.D, Device::cuda);
  ops::attention_backward(p.cpu_graph.view(), p.cpu_rg.view(), y.view(), x.view(), 0.125f, w.view(),
                          sc.view(), dq.view(), dk.view());
  ops::attention_backward(p.gpu_graph.view(), p.gpu_rg.view(), yg.view(), xg.view(), 0.125f, wg.view(),
                          sg.view(), dqg.view(), dkg.view());
  CHECK(g::rel(host(dqg), ta::to_vec(dq)) <= 1e-5);
  CHECK(g::rel(host(dkg), ta::to_vec(dk)) <= 1e-5);
  CHECK(g::rel(sg.host(), ta::to_vec(sc)) <= 1e-5);
}

TEST_CASE("CUDA dropout masks equal the CPU's bit for bit", "[cuda][attention][backward]") {
  if (skip_without_gpu()) return;
  Problem p(300, 3, 20, 4);
  Tensor3<float> x = p.nodes(1);
  Tensor3<float> xg = x.to(Device::cuda);
  ops::dropout(x.view(), 0.3f, 9, 4);
  ops::dropout(xg.view(), 0.3f, 9, 4);
  CHECK(xg.to(Device::cpu).buffer().to_vector() == x.buffer().to_vector());
  Matrix<float> w = p.edges(2);
  GpuMatrix wg(w);
  ops::dropout_edges(w.view(), ops::EdgeLayout::edge_major, 0.2f, 1, 2);
  ops::dropout_edges(wg.view(), ops::EdgeLayout::edge_major, 0.2f, 1, 2);
  const auto a = wg.buf.to_vector();
  CHECK(a == w.buffer().to_vector());
}

TEST_CASE("CUDA diffusion backward matches the CPU (PPR, plain attention, heat, with mask and dropout)",
          "[cuda][attention][diffusion]") {
  if (skip_without_gpu()) return;
  Problem p(900, 4, 64, 8);
  const Tensor3<float> q = p.nodes(1), k = p.nodes(2), v = p.nodes(3), dz = p.nodes(4);
  const Tensor3<float> qg = q.to(Device::cuda), kg = k.to(Device::cuda), vg = v.to(Device::cuda),
                       dzg = dz.to(Device::cuda);
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(p.n), 1);
  mask[7] = mask[100] = 0;
  const Buffer<std::uint8_t> mc = Buffer<std::uint8_t>::from_host(mask), mg = mc.to(Device::cuda);
  diffusion::DiffusionDropout drop;
  drop.p_weights = 0.1f;
  drop.p_hops = 0.1f;
  drop.seed = 3;
  drop.stream = 5;
  for (const auto& c : {diffusion::Coefficients::ppr(5, 0.1), diffusion::Coefficients::ppr(0, 0.1),
                        diffusion::Coefficients::heat(3, 1.0)}) {
    for (bool with_drop : {false, true}) {
      CAPTURE(c.describe(), with_drop);
      diffusion::BackwardOptions o;
      if (with_drop) o.dropout = drop;
      Tensor3<float> dq(p.n, p.H, p.D), dk(p.n, p.H, p.D), dv(p.n, p.H, p.D);
      Tensor3<float> dqg(p.n, p.H, p.D, Device::cuda), dkg(p.n, p.H, p.D, Device::cuda),
          dvg(p.n, p.H, p.D, Device::cuda);
      diffusion::diffuse_backward(p.cpu_graph, p.cpu_rg, q.view(), k.view(), v.view(),
                                  {mc.data(), mc.size(), Device::cpu}, c, dz.view(), dq.view(), dk.view(),
                                  dv.view(), o);
      diffusion::diffuse_backward(p.gpu_graph, p.gpu_rg, qg.view(), kg.view(), vg.view(),
                                  {mg.data(), mg.size(), Device::cuda}, c, dzg.view(), dqg.view(), dkg.view(),
                                  dvg.view(), o);
      CHECK(g::rel(host(dqg), ta::to_vec(dq)) <= 1e-5);
      CHECK(g::rel(host(dkg), ta::to_vec(dk)) <= 1e-5);
      CHECK(g::rel(host(dvg), ta::to_vec(dv)) <= 1e-5);
    }
  }
}
