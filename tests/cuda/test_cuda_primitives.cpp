// Every CUDA primitive against the CPU backend and the float64 reference: random graphs with hub
// and empty rows, padding masks, specialised and generic head sizes, both weight layouts, the hub
// path forced on small graphs, and bf16 storage.
#include <catch2/catch.hpp>

#include <cmath>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops.hpp>

#include "cuda/cuda_test.hpp"
#include "support/reference.hpp"

using namespace diffuser;

namespace {

struct Case {
  Csr g;   // host
  Csr gd;  // device
  Tensor3<float> q, k, v;
  Tensor3<float> qd, kd, vd;
  double scale;
};

Case make_case(std::int64_t n, std::int64_t h, std::int64_t d, std::uint64_t seed, std::int64_t degree = 9) {
  Case c;
  c.g = test::random_graph(n, degree, seed, {2, static_cast<std::int32_t>(n - 1)}, {4});
  c.gd = c.g.to(Device::cuda);
  c.q = test::random_tensor(n, h, d, seed + 1);
  c.k = test::random_tensor(n, h, d, seed + 2);
  c.v = test::random_tensor(n, h, d, seed + 3);
  c.qd = c.q.to(Device::cuda);
  c.kd = c.k.to(Device::cuda);
  c.vd = c.v.to(Device::cuda);
  c.scale = 1.0 / std::sqrt(double(d));
  return c;
}

std::vector<std::uint8_t> some_padding(std::int64_t n) {
  std::vector<std::uint8_t> m(static_cast<std::size_t>(n), 1);
  for (std::int64_t i = 0; i < n; i += 5) m[static_cast<std::size_t>(i)] = 0;
  return m;
}

double rel(const std::vector<float>& x, const std::vector<double>& ref) {
  return test::rel_error(x.data(), ref);
}
double rel(const std::vector<float>& x, const std::vector<float>& ref) {
  return test::rel_error(x.data(), test::to_double(ref.data(), static_cast<std::int64_t>(ref.size())));
}

Tensor3View<float> view_of(Buffer<float>& b, std::int64_t n, std::int64_t h, std::int64_t d) {
  return tensor3_view(b.data(), n, h, d, Device::cuda);
}

}  // namespace

TEST_CASE("CUDA edge_dot, edge_softmax, edge_attention match the CPU and float64", "[cuda][engine]") {
  if (!test::cuda_or_skip()) return;
  test::ScheduleGuard guard;
  const auto d = GENERATE(64, 128, 24, 16);
  const bool masked = GENERATE(false, true);
  const std::string schedule = GENERATE(as<std::string>{}, "default", "hub=8", "hub=8,score=s16,sstep=8",
                                        "score=s32,sstep=32", "score=s16,sstep=16");
  CAPTURE(d, masked, schedule);
  guard.set(schedule);
  const std::int64_t n = 150, h = 3;
  Case c = make_case(n, h, d, 500 + static_cast<std::uint64_t>(d));
  const std::int64_t E = c.g.num_edges();
  const auto mask = masked ? some_padding(n) : std::vector<std::uint8_t>{};
  const ops::NodeMask mh{mask.data(), static_cast<std::int64_t>(mask.size()), Device::cpu};
  Buffer<std::uint8_t> md = Buffer<std::uint8_t>::from_host(mask, Device::cuda);
  const ops::NodeMask mdv = masked ? ops::NodeMask{md.data(), md.size(), Device::cuda} : ops::NodeMask{};

  // edge_dot
  Buffer<float> s = test::poisoned(E * h);
  ops::edge_dot(c.gd.view(), c.qd.view(), c.kd.view(), static_cast<float>(c.scale),
                {s.data(), E, h, Device::cuda});
  const auto ref_s = test::ref_scores(c.g, c.q, c.k, c.scale);
  REQUIRE(rel(s.to_vector(), ref_s) < 1e-5);

  // edge_softmax in place
  const auto dense = test::ref_dense_attention(c.g, c.q, c.k, mask, c.scale);
  const auto ref_w = test::edge_values(c.g, dense, h);
  ops::edge_softmax(c.gd.view(), {s.data(), E, h, Device::cuda}, mdv);
  REQUIRE(rel(s.to_vector(), ref_w) < 1e-5);

  // fused, both layouts, against the CPU's fused result too
  Matrix<float> cpu_w(E, h);
  ops::edge_attention(c.g.view(), c.q.view(), c.k.view(), static_cast<float>(c.scale), mh, cpu_w.view());
  Buffer<float> w_em = test::poisoned(E * h), w_hm = test::poisoned(E * h);
  ops::edge_attention(c.gd.view(), c.qd.view(), c.kd.view(), static_cast<float>(c.scale), mdv,
                      {w_em.data(), E, h, Device::cuda}, ops::EdgeLayout::edge_major);
  ops::edge_attention(c.gd.view(), c.qd.view(), c.kd.view(), static_cast<float>(c.scale), mdv,
                      {w_hm.data(), h, E, Device::cuda}, ops::EdgeLayout::head_major);
  const auto em = w_em.to_vector();
  const auto hm = test::edge_major(w_hm.to_vector(), E, h);
  REQUIRE(rel(em, ref_w) < 1e-5);
  REQUIRE(rel(hm, ref_w) < 1e-5);
  REQUIRE(rel(em, cpu_w.buffer().to_vector()) < 1e-5);
  REQUIRE(em == hm);  // same kernels, same order: bitwise equal
  // Dead rows (no edge, padded) carry exactly zero.
  for (std::int64_t i = 0; i < n; ++i) {
    const bool dead = c.g.degree(i) == 0 || (masked && mask[static_cast<std::size_t>(i)] == 0);
    if (!dead) continue;
    for (auto e = c.g.row_ptr()[i]; e < c.g.row_ptr()[i + 1]; ++e)
      for (std::int64_t hh = 0; hh < h; ++hh) REQUIRE(em[static_cast<std::size_t>(e * h + hh)] == 0.0f);
  }
}

TEST_CASE("CUDA gather_sum, gather_axpby, node_axpby match the CPU and float64", "[cuda][engine]") {
  if (!test::cuda_or_skip()) return;
  test::ScheduleGuard guard;
  const auto d = GENERATE(64, 128, 24);
  const std::string schedule = GENERATE(as<std::string>{}, "default", "hub=8", "hop=w32,hub=8,step=8",
                                        "hop=w8,step=16", "hop=h2,hub=8", "hop=row,hub=8", "hop=w32,step=32");
  CAPTURE(d, schedule);
  guard.set(schedule);
  const std::int64_t n = 130, h = 3;
  Case c = make_case(n, h, d, 600 + static_cast<std::uint64_t>(d));
  const std::int64_t E = c.g.num_edges();
  Matrix<float> w(E, h);
  ops::edge_attention(c.g.view(), c.q.view(), c.k.view(), 0.125f, {}, w.view());
  const auto wd = test::to_double(w.buffer().data(), w.buffer().size());
  const Buffer<float> w_em = w.buffer().to(Device::cuda);
  Buffer<float> w_hm(E * h, Device::cuda);
  ops::transpose_edge_values({w_em.data(), E, h, Device::cuda}, {w_hm.data(), h, E, Device::cuda});
  const MatrixView<const float> wem{w_em.data(), E, h, Device::cuda}, whm{w_hm.data(), h, E, Device::cuda};

  const auto ref = test::ref_gather(c.g, wd, c.v);
  Buffer<float> out = test::poisoned(n * h * d);
  ops::gather_sum(c.gd.view(), wem, c.vd.view(), view_of(out, n, h, d));
  REQUIRE(test::rel_error(out.to_vector().data(), ref) < 1e-5);

  std::vector<double> ref2(ref.size());
  for (std::size_t t = 0; t < ref.size(); ++t)
    ref2[t] = 0.9 * ref[t] + 0.1 * double(c.q.buffer()[static_cast<std::int64_t>(t)]);
  for (auto layout : {ops::EdgeLayout::edge_major, ops::EdgeLayout::head_major}) {
    Buffer<float> o = test::poisoned(n * h * d);
    ops::gather_axpby(c.gd.view(), layout == ops::EdgeLayout::edge_major ? wem : whm, 0.9f, c.vd.view(), 0.1f,
                      c.qd.view(), view_of(o, n, h, d), layout);
    REQUIRE(test::rel_error(o.to_vector().data(), ref2) < 1e-5);
    Buffer<float> o0 = test::poisoned(n * h * d);  // b == 0: y may be empty
    ops::gather_axpby(c.gd.view(), layout == ops::EdgeLayout::edge_major ? wem : whm, 1.0f, c.vd.view(), 0.0f,
                      {}, view_of(o0, n, h, d), layout);
    REQUIRE(test::rel_error(o0.to_vector().data(), ref) < 1e-5);
  }
  // The CPU backend on the same weights.
  Tensor3<float> cpu(n, h, d);
  ops::gather_axpby(c.g.view(), w.view(), 0.9f, c.v.view(), 0.1f, c.q.view(), cpu.view());
  Buffer<float> o = test::poisoned(n * h * d);
  ops::gather_axpby(c.gd.view(), wem, 0.9f, c.vd.view(), 0.1f, c.qd.view(), view_of(o, n, h, d));
  REQUIRE(rel(o.to_vector(), cpu.buffer().to_vector()) < 1e-5);

  // node_axpby, also in place
  Buffer<float> ax = test::poisoned(n * h * d);
  ops::node_axpby(2.0f, c.qd.view(), -0.5f, c.kd.view(), view_of(ax, n, h, d));
  std::vector<double> ref3(ref.size());
  for (std::size_t t = 0; t < ref.size(); ++t)
    ref3[t] =
        2.0 * c.q.buffer()[static_cast<std::int64_t>(t)] - 0.5 * c.k.buffer()[static_cast<std::int64_t>(t)];
  REQUIRE(test::rel_error(ax.to_vector().data(), ref3) < 1e-6);
  ops::node_axpby(1.0f, view_of(ax, n, h, d), 1.0f, view_of(ax, n, h, d), view_of(ax, n, h, d));
  for (auto& r : ref3) r *= 2;
  REQUIRE(test::rel_error(ax.to_vector().data(), ref3) < 1e-6);
}

TEST_CASE("CUDA primitives accept strided views of a packed (N, 3, H, D) projection", "[cuda][engine]") {
  if (!test::cuda_or_skip()) return;
  const std::int64_t n = 40, h = 2, d = 64;
  Case c = make_case(n, h, d, 700);
  Buffer<float> packed(n * 3 * h * d);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t t = 0; t < h * d; ++t) {
      packed[(i * 3 + 0) * h * d + t] = c.q.buffer()[i * h * d + t];
      packed[(i * 3 + 1) * h * d + t] = c.k.buffer()[i * h * d + t];
      packed[(i * 3 + 2) * h * d + t] = c.v.buffer()[i * h * d + t];
    }
  const Buffer<float> pd = packed.to(Device::cuda);
  auto view_of_packed = [&](int which) {
    return Tensor3View<const float>{pd.data() + which * h * d, n, h, d, 3 * h * d, d, Device::cuda};
  };
  const std::int64_t E = c.g.num_edges();
  Buffer<float> w1(E * h, Device::cuda), w2(E * h, Device::cuda);
  ops::edge_attention(c.gd.view(), c.qd.view(), c.kd.view(), 0.125f, {}, {w1.data(), E, h, Device::cuda});
  ops::edge_attention(c.gd.view(), view_of_packed(0), view_of_packed(1), 0.125f, {},
                      {w2.data(), E, h, Device::cuda});
  REQUIRE(w1.to_vector() == w2.to_vector());
  Buffer<float> o1(n * h * d, Device::cuda), o2(n * h * d, Device::cuda);
  ops::gather_sum(c.gd.view(), {w1.data(), E, h, Device::cuda}, c.vd.view(), view_of(o1, n, h, d));
  ops::gather_sum(c.gd.view(), {w1.data(), E, h, Device::cuda}, view_of_packed(2), view_of(o2, n, h, d));
  REQUIRE(o1.to_vector() == o2.to_vector());
}

TEST_CASE("CUDA bf16 primitives match the CPU bf16 path and float64 on the rounded inputs",
          "[cuda][engine]") {
  if (!test::cuda_or_skip()) return;
  test::ScheduleGuard guard;
  const auto d = GENERATE(64, 128, 40);
  const std::string schedule =
      GENERATE(as<std::string>{}, "default", "hub=8,hop=w32", "hop=w8,score=s16,sstep=8", "hop=h2,step=16",
               "hop=row", "hop=w16,step=32,score=s32,sstep=32", "hop=w8,step=8,sstep=16");
  CAPTURE(d, schedule);
  guard.set(schedule);
  const std::int64_t n = 120, h = 3;
  Case c = make_case(n, h, d, 800 + static_cast<std::uint64_t>(d));
  const std::int64_t E = c.g.num_edges();
  const Tensor3<float> qr = test::rounded(c.q), kr = test::rounded(c.k), vr = test::rounded(c.v);
  const Tensor3<bf16> qb = test::to_bf16_tensor(c.q), kb = test::to_bf16_tensor(c.k),
                      vb = test::to_bf16_tensor(c.v);
  const Tensor3<bf16> qbd = qb.to(Device::cuda), kbd = kb.to(Device::cuda), vbd = vb.to(Device::cuda);

  // device conversion rounds exactly like the host
  Buffer<bf16> conv = test::poisoned_bf16(n * h * d);
  ops::convert(c.qd.view(), tensor3_view(conv.data(), n, h, d, Device::cuda));
  const auto conv_h = conv.to_vector();
  for (std::int64_t t = 0; t < n * h * d; ++t)
    REQUIRE(conv_h[static_cast<std::size_t>(t)].bits == qb.buffer()[t].bits);
  Buffer<float> back = test::poisoned(n * h * d);
  ops::convert(Tensor3View<const bf16>(tensor3_view(conv.data(), n, h, d, Device::cuda)),
               tensor3_view(back.data(), n, h, d, Device::cuda));
  REQUIRE(back.to_vector() == qr.buffer().to_vector());

  const auto dense = test::ref_dense_attention(c.g, qr, kr, {}, c.scale);
  const auto ref_w = test::edge_values(c.g, dense, h);
  Buffer<float> w = test::poisoned(E * h);
  ops::edge_attention(c.gd.view(), qbd.view(), kbd.view(), static_cast<float>(c.scale), {},
                      {w.data(), h, E, Device::cuda}, ops::EdgeLayout::head_major);
  const auto wh = test::edge_major(w.to_vector(), E, h);
  REQUIRE(rel(wh, ref_w) < 1e-5);  // float32 arithmetic on exactly representable inputs
  Matrix<float> wcpu(E, h);
  ops::edge_attention(c.g.view(), qb.view(), kb.view(), static_cast<float>(c.scale), {}, wcpu.view());
  REQUIRE(rel(wh, wcpu.buffer().to_vector()) < 1e-5);

  Buffer<float> s = test::poisoned(E * h);
  ops::edge_dot(c.gd.view(), qbd.view(), kbd.view(), static_cast<float>(c.scale),
                {s.data(), E, h, Device::cuda});
  REQUIRE(rel(s.to_vector(), test::ref_scores(c.g, qr, kr, c.scale)) < 1e-5);

  // one hop in bf16: output rounded once
  const auto wd = test::to_double(wh.data(), E * h);
  const auto g_ref = test::ref_gather(c.g, wd, vr);
  std::vector<double> ref(g_ref.size());
  for (std::size_t t = 0; t < ref.size(); ++t)
    ref[t] = 0.9 * g_ref[t] + 0.1 * double(vr.buffer()[static_cast<std::int64_t>(t)]);
  Buffer<bf16> out = test::poisoned_bf16(n * h * d);
  ops::gather_axpby(c.gd.view(), MatrixView<const float>{w.data(), h, E, Device::cuda}, 0.9f, vbd.view(),
                    0.1f, vbd.view(), tensor3_view(out.data(), n, h, d, Device::cuda),
                    ops::EdgeLayout::head_major);
  const auto out_f = test::widen(out.to_vector());
  REQUIRE(test::rel_error(out_f.data(), ref) < 1e-2);
  REQUIRE(test::rel_error(out_f.data(), ref) < 5e-3);  // one rounding: about 2^-9
  Tensor3<bf16> cpu_out(n, h, d);
  Matrix<float> wem(E, h);
  for (std::int64_t t = 0; t < E * h; ++t) wem.buffer()[t] = wh[static_cast<std::size_t>(t)];
  ops::gather_axpby(c.g.view(), wem.view(), 0.9f, vb.view(), 0.1f, vb.view(), cpu_out.view());
  REQUIRE(rel(out_f, test::widen(cpu_out.buffer().to_vector())) < 1e-2);

  Buffer<bf16> ax = test::poisoned_bf16(n * h * d);
  ops::node_axpby(0.5f, qbd.view(), 0.25f, kbd.view(), tensor3_view(ax.data(), n, h, d, Device::cuda));
  Tensor3<bf16> ax_cpu(n, h, d);
  ops::node_axpby(0.5f, qb.view(), 0.25f, kb.view(), ax_cpu.view());
  // The GPU contracts a*x + b*y into one FMA, the CPU does not: equal up to one bf16 rounding.
  REQUIRE(rel(test::widen(ax.to_vector()), test::widen(ax_cpu.buffer().to_vector())) < 4e-3);
}

TEST_CASE("CUDA find_non_finite, transpose and argument checks", "[cuda][engine]") {
  using Catch::Matchers::Contains;
  if (!test::cuda_or_skip()) return;
  const std::int64_t n = 50, h = 3, d = 16;
  Tensor3<float> x = test::random_tensor(n, h, d, 1);
  REQUIRE(ops::find_non_finite(x.to(Device::cuda).view()) == -1);
  x.buffer()[777] = std::numeric_limits<float>::infinity();
  x.buffer()[2000] = std::numeric_limits<float>::quiet_NaN();
  REQUIRE(ops::find_non_finite(x.to(Device::cuda).view()) == 777);
  const Tensor3<bf16> xb = test::to_bf16_tensor(x);
  REQUIRE(ops::find_non_finite(xb.to(Device::cuda).view()) == 777);
  REQUIRE(ops::find_non_finite(xb.view()) == 777);

  const std::int64_t rows = 1000, cols = 7;
  const Tensor3<float> m = test::random_tensor(rows, cols, 1, 2);
  const Buffer<float> md = m.buffer().to(Device::cuda);
  Buffer<float> t(rows * cols, Device::cuda), back(rows * cols, Device::cuda);
  ops::transpose_edge_values({md.data(), rows, cols, Device::cuda}, {t.data(), cols, rows, Device::cuda});
  ops::transpose_edge_values({t.data(), cols, rows, Device::cuda}, {back.data(), rows, cols, Device::cuda});
  const auto tv = t.to_vector();
  REQUIRE(tv[static_cast<std::size_t>(3 * rows + 5)] == m.buffer()[5 * cols + 3]);
  REQUIRE(back.to_vector() == m.buffer().to_vector());

  Case c = make_case(20, 2, 16, 900);
  Buffer<float> w(c.g.num_edges() * 2, Device::cuda);
  REQUIRE_THROWS_WITH(ops::edge_attention(c.gd.view(), c.q.view(), c.kd.view(), 1.0f, {},
                                          {w.data(), c.g.num_edges(), 2, Device::cuda}),
                      Contains("q is on cpu"));
  REQUIRE_THROWS_WITH(
      ops::gather_axpby(c.gd.view(), {w.data(), c.g.num_edges(), 2, Device::cuda}, 1.0f, c.vd.view(), 0.0f,
                        {}, {w.data(), 20, 2, 16, 32, 16, Device::cuda}, ops::EdgeLayout::head_major),
      Contains("head-major"));
}
