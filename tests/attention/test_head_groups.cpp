// Head groups of the attention backward (BackwardOptions::head_groups, LayerOptions::head_groups):
// the dropout masks of a head slice equal the whole tensor's for those heads (node tensors as strided
// sub-views, edge values as separate (E, g) buffers, both layouts), the grouped diffusion backward
// and layer backward equal the ungrouped ones bit for bit on the CPU (G = 1, 2, 3, 4, 12 of 12 heads;
// PPR, heat, theta, K = 0, theta_0 only; padding mask; dropout; the three hop-memory modes), the
// memory accounting and the automatic rule. [cuda]: the same on the GPU (<= 1e-6) and the sliced masks
// against the CPU bit for bit.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <diffuser/attention/layer.hpp>
#include <diffuser/attention/params.hpp>
#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops_backward.hpp>

#include "attention/attention_test_util.hpp"
#include "attention/grad_reference.hpp"

using namespace diffuser;
using diffusion::Coefficients;
using diffusion::HopMemory;
namespace g = diffuser::test::grad;
namespace ta = diffuser::test::attn;

namespace {

constexpr std::int64_t kHeads = 12;
const int kGroups[] = {1, 2, 3, 4, 12};

bool skip_without_gpu() {
  std::string why;
  if (cuda_available(&why)) return false;
  std::printf("SKIPPED: no CUDA device (%s)\n", why.c_str());
  std::fflush(stdout);
  if (std::getenv("DIFFUSER_TEST_SKIP_EXIT")) std::exit(77);
  return true;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::vector<float> host_floats(const Buffer<float>& b) {
  return b.device() == Device::cpu ? std::vector<float>(b.data(), b.data() + b.size()) : b.to_vector();
}

std::vector<double> as_double(const std::vector<float>& v) {
  return std::vector<double>(v.begin(), v.end());
}

// Heads [h0, h0 + g) of a view.
template <class T>
Tensor3View<T> heads_of(Tensor3View<T> t, std::int64_t h0, std::int64_t g) {
  t.data += h0 * t.stride_h;
  t.h = g;
  return t;
}

// Q, K, V packed as (N, 3, H, D), as the layer's projection, so every view is strided.
struct Problem {
  Csr csr;
  ReverseGraph rg;
  std::int64_t n, H, D;
  Buffer<float> qkv, dz;
  std::vector<std::uint8_t> mask;
  Buffer<std::uint8_t> mask_buf;
  Device dev = Device::cpu;

  Problem(std::int64_t n_, std::int64_t D_, std::uint64_t seed, bool masked, Device device = Device::cpu)
      : csr(ta::test_graph(n_, 4, seed)), n(n_), H(kHeads), D(D_), dev(device) {
    const auto v = ta::random_values(static_cast<std::size_t>(n * 3 * H * D), seed + 1);
    const auto z = ta::random_values(static_cast<std::size_t>(n * H * D), seed + 2);
    qkv = Buffer<float>(n * 3 * H * D);
    dz = Buffer<float>(n * H * D);
    for (std::size_t i = 0; i < v.size(); ++i) qkv[static_cast<std::int64_t>(i)] = static_cast<float>(v[i]);
    for (std::size_t i = 0; i < z.size(); ++i) dz[static_cast<std::int64_t>(i)] = static_cast<float>(z[i]);
    if (masked) {
      mask.assign(static_cast<std::size_t>(n), 1);
      mask[2] = mask[static_cast<std::size_t>(n - 1)] = 0;
      mask_buf = Buffer<std::uint8_t>::from_host(mask);
    }
    if (dev != Device::cpu) {
      csr = csr.to(dev);
      qkv = qkv.to(dev);
      dz = dz.to(dev);
      if (masked) mask_buf = mask_buf.to(dev);
    }
    rg = ReverseGraph(csr);
  }
  Tensor3View<const float> part(int which) const {
    return {qkv.data() + which * H * D, n, H, D, 3 * H * D, D, dev};
  }
  ops::NodeMask node_mask() const {
    return mask.empty() ? ops::NodeMask{} : ops::NodeMask{mask_buf.data(), mask_buf.size(), dev};
  }

  // dQ, dK, dV packed (N, 3, H, D) as the layer's gradient.
  std::vector<float> backward(const Coefficients& c, const diffusion::DiffusionDropout& drop,
                              HopMemory memory, int groups) const {
    Buffer<float> out(n * 3 * H * D, dev);
    auto grad = [&](int which) -> Tensor3View<float> {
      return {out.data() + which * H * D, n, H, D, 3 * H * D, D, dev};
    };
    std::vector<Tensor3<float>> hops;
    diffusion::BackwardOptions o;
    o.dropout = drop;
    o.memory = memory;
    o.head_groups = groups;
    if (memory == HopMemory::keep) {
      Tensor3<float> z(n, H, D, dev);
      diffusion::diffuse_forward(csr, part(0), part(1), part(2), node_mask(), c, drop, z.view(), {}, 0.0f,
                                 &hops);
      o.hop_inputs = diffusion::views_of(hops);
    }
    diffusion::diffuse_backward(csr, rg, part(0), part(1), part(2), node_mask(), c,
                                tensor3_view<const float>(dz.data(), n, H, D, dev), grad(0), grad(1), grad(2),
                                o);
    return host_floats(out);
  }
};

diffusion::DiffusionDropout test_dropout() {
  diffusion::DiffusionDropout d;
  d.p_weights = 0.2f;
  d.p_hops = 0.25f;
  d.seed = 9;
  d.stream = 31;
  return d;
}

std::vector<Coefficients> coefficient_cases() {
  return {Coefficients::ppr(5, 0.1),  Coefficients::ppr(1, 0.3),
          Coefficients::heat(3, 1.2), Coefficients::custom({0.3, -0.2, 0.6, 0.3}),
          Coefficients::ppr(0, 0.1),  Coefficients::custom({0.7})};
}

// The masks of a head slice: node tensors (a strided sub-view of a copy) and edge values (a separate
// (E, g) or (g, E) buffer) against the whole tensor's, on `dev`.
void check_sliced_masks(Device dev) {
  const std::int64_t n = 37, H = kHeads, D = 5, E = 211;
  const auto vals = ta::random_values(static_cast<std::size_t>(n * H * D), 3);
  Tensor3<float> whole = ta::tensor_from(vals, n, H, D);
  if (dev != Device::cpu) whole = whole.to(dev);
  ops::dropout(whole.view(), 0.3f, 4, 17);
  const std::vector<float> want = host_floats(whole.buffer());
  const auto evals = ta::random_values(static_cast<std::size_t>(E * H), 5);
  std::vector<float> ewhole(evals.begin(), evals.end());
  {
    Buffer<float> b = Buffer<float>::from_host(ewhole, dev);
    ops::dropout_edges({b.data(), E, H, dev}, ops::EdgeLayout::edge_major, 0.3f, 4, 18);
    ewhole = host_floats(b);
  }
  for (int groups : kGroups) {
    const std::int64_t gh = H / groups;
    CAPTURE(groups);
    Tensor3<float> t = ta::tensor_from(vals, n, H, D);
    if (dev != Device::cpu) t = t.to(dev);
    for (std::int64_t grp = 0; grp < groups; ++grp)
      ops::dropout(heads_of(t.view(), grp * gh, gh), 0.3f, 4, 17, {grp * gh, H});
    CHECK(same_bits(host_floats(t.buffer()), want));

    std::vector<float> got(static_cast<std::size_t>(E * H));
    for (std::int64_t grp = 0; grp < groups; ++grp) {
      const std::int64_t h0 = grp * gh;
      for (bool head_major : {false, true}) {
        std::vector<float> part(static_cast<std::size_t>(E * gh));
        for (std::int64_t e = 0; e < E; ++e)
          for (std::int64_t h = 0; h < gh; ++h)
            part[static_cast<std::size_t>(head_major ? h * E + e : e * gh + h)] =
                static_cast<float>(evals[static_cast<std::size_t>(e * H + h0 + h)]);
        Buffer<float> b = Buffer<float>::from_host(part, dev);
        const MatrixView<float> m =
            head_major ? MatrixView<float>{b.data(), gh, E, dev} : MatrixView<float>{b.data(), E, gh, dev};
        ops::dropout_edges(m, head_major ? ops::EdgeLayout::head_major : ops::EdgeLayout::edge_major, 0.3f, 4,
                           18, {h0, H});
        part = host_floats(b);
        for (std::int64_t e = 0; e < E; ++e)
          for (std::int64_t h = 0; h < gh; ++h) {
            const float x = part[static_cast<std::size_t>(head_major ? h * E + e : e * gh + h)];
            if (!head_major) got[static_cast<std::size_t>(e * H + h0 + h)] = x;
            CHECK(x == ewhole[static_cast<std::size_t>(e * H + h0 + h)]);
          }
      }
    }
    CHECK(same_bits(got, ewhole));
  }
}

// A small layer with 12 heads (d_model 48, D = 4).
struct LayerCase {
  attention::LayerOptions o;
  attention::LayerParams p;
  attention::GraphBatch batch;
  Matrix<float> x, dy;
  attention::RunMode mode;
  LayerCase(bool pre_ln, bool dropout, Coefficients c, HopMemory memory, Device dev = Device::cpu,
            bool masked = true)
      : batch(attention::GraphBatch::from_lengths({14, 9}, "window:2+global-at:0+random:2", 3)) {
    o.d_model = 48;
    o.heads = kHeads;
    o.intermediate = 64;
    o.pre_layer_norm = pre_ln;
    o.coefficients = c;
    o.hop_memory = memory;
    if (dropout) {
      o.p_hidden = 0.1f;
      o.p_attn_weights = 0.2f;
      o.p_attn_hops = 0.15f;
    }
    p = attention::LayerParams(o.shape());
    attention::init_layer(p, 0.3, 11, 0);
    if (masked) {
      std::vector<std::uint8_t> mask(static_cast<std::size_t>(batch.tokens()), 1);
      mask[3] = mask[static_cast<std::size_t>(batch.tokens() - 1)] = 0;
      batch.mask = Buffer<std::uint8_t>::from_host(mask);
    }
    const std::int64_t T = batch.tokens();
    x = ta::matrix_from(ta::random_values(static_cast<std::size_t>(T * o.d_model), 5), T, o.d_model);
    dy = ta::matrix_from(ta::random_values(static_cast<std::size_t>(T * o.d_model), 6), T, o.d_model);
    mode = attention::RunMode{dropout, 42, 1};
    if (dev != Device::cpu) {
      p = p.to(dev);
      batch = batch.to(dev);
      x = on(x, dev);
      dy = on(dy, dev);
    }
  }
  static Matrix<float> on(const Matrix<float>& m, Device dev) {
    Matrix<float> r(m.rows(), m.cols(), dev);
    device_copy(r.buffer().data(), dev, m.buffer().data(), m.device(), m.buffer().bytes());
    return r;
  }
  // dX, then every parameter gradient, flattened.
  std::vector<float> step(int groups) {
    o.head_groups = groups;
    const Device dev = x.device();
    Matrix<float> y(x.rows(), x.cols(), dev), dx(x.rows(), x.cols(), dev);
    attention::LayerCache cache;
    attention::layer_forward(o, p, batch, x.view(), y.view(), mode, &cache);
    attention::LayerParams gr(o.shape(), dev);
    attention::zero(gr);
    attention::layer_backward(o, p, batch, x.view(), cache, dy.view(), dx.view(), gr, mode);
    std::vector<float> out = host_floats(dx.buffer());
    attention::LayerParams gm = dev == Device::cpu ? std::move(gr) : gr.to(Device::cpu);
    attention::visit(gm, "", [&](const std::string&, float* data, const std::vector<std::int64_t>& shape) {
      std::int64_t count = 1;
      for (auto s : shape) count *= s;
      out.insert(out.end(), data, data + count);
    });
    return out;
  }
};

}  // namespace

TEST_CASE("dropout on a head slice draws the whole tensor's masks for those heads",
          "[cpu][attention][heads]") {
  check_sliced_masks(Device::cpu);
}

TEST_CASE("dropout head slices are checked", "[cpu][attention][heads]") {
  Tensor3<float> t(4, 3, 2);
  t.buffer().zero();
  CHECK_THROWS_WITH(ops::dropout(t.view(), 0.1f, 1, 2, {1, 0}),
                    Catch::Contains("dropout: a head offset (1) needs the total head count"));
  CHECK_THROWS_WITH(ops::dropout(t.view(), 0.1f, 1, 2, {2, 4}),
                    Catch::Contains("dropout: heads [2, 5) are not a slice of 4 heads"));
  Matrix<float> w(5, 3);
  w.buffer().zero();
  CHECK_THROWS_WITH(ops::dropout_edges(w.view(), ops::EdgeLayout::edge_major, 0.1f, 1, 2, {-1, 4}),
                    Catch::Contains("dropout_edges: heads [-1, 2) are not a slice of 4 heads"));
  CHECK_NOTHROW(ops::dropout_edges(w.view(), ops::EdgeLayout::edge_major, 0.1f, 1, 2, {1, 4}));
  CHECK_NOTHROW(ops::dropout(t.view(), 0.1f, 1, 2, {0, 3}));
}

// With a padding mask the CPU's row softmax works head by head, so every head's arithmetic is the
// same whatever the head count and the grouped result has the same bits. Without one it is
// vectorised over the row's flat (edges x H) block, and which edges share a lane depends on H: the
// sums are the same up to rounding (the grouped result within 1e-6).
TEST_CASE("grouped diffusion backward equals the ungrouped one (bit for bit with a padding mask)",
          "[cpu][attention][heads][diffusion]") {
  const bool masked = GENERATE(false, true);
  const bool with_drop = GENERATE(false, true);
  CAPTURE(masked, with_drop);
  const Problem pr(29, 4, 50 + (masked ? 1u : 0u), masked);
  const diffusion::DiffusionDropout drop = with_drop ? test_dropout() : diffusion::DiffusionDropout{};
  double worst = 0;
  for (const auto& c : coefficient_cases()) {
    for (HopMemory memory : {HopMemory::store, HopMemory::recompute, HopMemory::keep}) {
      CAPTURE(c.describe(), static_cast<int>(memory));
      const std::vector<float> whole = pr.backward(c, drop, memory, 1);
      for (int groups : kGroups) {
        CAPTURE(groups);
        const std::vector<float> grouped = pr.backward(c, drop, memory, groups);
        if (masked) {
          CHECK(same_bits(grouped, whole));
        } else {
          const double r = g::rel(as_double(grouped), as_double(whole));
          worst = std::max(worst, r);
          CHECK(r <= 1e-6);
        }
      }
    }
  }
  if (!masked)
    std::printf("grouped vs ungrouped diffusion backward, unmasked: max relative difference %.2e\n", worst);
}

TEST_CASE("grouped diffusion backward: the masks follow the logical heads",
          "[cpu][attention][heads][diffusion]") {
  // A sub-view of heads [h0, h0 + g) with DiffusionDropout::heads = {h0, H} gives the whole call's
  // gradients of those heads (the way a caller grouping on its own would use it).
  const Problem pr(31, 4, 77, true);
  const auto c = Coefficients::ppr(4, 0.1);
  const diffusion::DiffusionDropout drop = test_dropout();
  const std::vector<float> whole = pr.backward(c, drop, HopMemory::store, 1);
  const std::int64_t n = pr.n, H = pr.H, D = pr.D, h0 = 4, gh = 4;
  Buffer<float> out(n * 3 * H * D);
  out.zero();
  auto sub = [&](const float* base, int which) -> Tensor3View<const float> {
    return {base + which * H * D + h0 * D, n, gh, D, 3 * H * D, D, Device::cpu};
  };
  auto gsub = [&](int which) -> Tensor3View<float> {
    return {out.data() + which * H * D + h0 * D, n, gh, D, 3 * H * D, D, Device::cpu};
  };
  diffusion::BackwardOptions o;
  o.dropout = drop;
  o.dropout.heads = {h0, H};
  diffusion::diffuse_backward(
      pr.csr, pr.rg, sub(pr.qkv.data(), 0), sub(pr.qkv.data(), 1), sub(pr.qkv.data(), 2), pr.node_mask(), c,
      {pr.dz.data() + h0 * D, n, gh, D, H * D, D, Device::cpu}, gsub(0), gsub(1), gsub(2), o);
  for (std::int64_t i = 0; i < n; ++i)
    for (int which = 0; which < 3; ++which)
      for (std::int64_t h = h0; h < h0 + gh; ++h)
        for (std::int64_t t = 0; t < D; ++t) {
          const auto f = static_cast<std::size_t>(((i * 3 + which) * H + h) * D + t);
          REQUIRE(out[static_cast<std::int64_t>(f)] == whole[f]);
        }
  // Without the slice the masks differ (the logical indices are those of a 4-head tensor).
  o.dropout.heads = {};
  diffusion::diffuse_backward(
      pr.csr, pr.rg, sub(pr.qkv.data(), 0), sub(pr.qkv.data(), 1), sub(pr.qkv.data(), 2), pr.node_mask(), c,
      {pr.dz.data() + h0 * D, n, gh, D, H * D, D, Device::cpu}, gsub(0), gsub(1), gsub(2), o);
  bool differs = false;
  for (std::int64_t i = 0; i < n && !differs; ++i)
    for (std::int64_t t = 0; t < gh * D; ++t)
      if (out[(i * 3 + 2) * H * D + h0 * D + t] !=
          whole[static_cast<std::size_t>((i * 3 + 2) * H * D + h0 * D + t)])
        differs = true;
  CHECK(differs);
}

TEST_CASE("head groups are checked", "[cpu][attention][heads][diffusion]") {
  const Problem pr(12, 2, 5, false);
  CHECK_THROWS_WITH(pr.backward(Coefficients::ppr(2, 0.1), {}, HopMemory::store, 5),
                    Catch::Contains("diffusion backward: 5 head groups do not divide the 12 heads"));
  CHECK_THROWS_WITH(pr.backward(Coefficients::ppr(2, 0.1), {}, HopMemory::store, 0),
                    Catch::Contains("head groups do not divide"));
  attention::LayerOptions o;
  o.d_model = 48;
  o.heads = 12;
  o.head_groups = 5;
  CHECK_THROWS_WITH(attention::attention_head_groups(o, 100, 1000),
                    Catch::Contains("layer: 5 head groups do not divide the 12 heads"));
}

TEST_CASE("grouped layer backward equals the ungrouped one (bit for bit with a padding mask)",
          "[cpu][attention][heads][layer]") {
  const bool pre_ln = GENERATE(false, true);
  const bool dropout = GENERATE(false, true);
  const bool masked = GENERATE(true, false);
  CAPTURE(pre_ln, dropout, masked);
  for (const auto& c : {Coefficients::ppr(5, 0.1), Coefficients::heat(2, 0.7), Coefficients::ppr(0, 0.1)}) {
    for (HopMemory memory : {HopMemory::store, HopMemory::keep}) {
      CAPTURE(c.describe(), static_cast<int>(memory));
      LayerCase lc(pre_ln, dropout, c, memory, Device::cpu, masked);
      const std::vector<float> whole = lc.step(1);
      for (int groups : {0, 2, 3, 4, 12}) {
        CAPTURE(groups);
        const std::vector<float> grouped = lc.step(groups);
        if (masked)
          CHECK(same_bits(grouped, whole));
        else
          CHECK(g::rel(as_double(grouped), as_double(whole)) <= 1e-6);
      }
    }
  }
}

TEST_CASE("head-group memory accounting and the automatic rule", "[cpu][attention][heads]") {
  const std::int64_t N = 16384, E = 4683989, H = 12, D = 64;
  const std::int64_t node = N * D * 4, edge = E * 4;  // one head
  for (int groups : kGroups) {
    const std::int64_t gh = H / groups;
    CHECK(diffusion::backward_bytes(N, E, H, D, 5, HopMemory::store, groups) == gh * (2 * edge + 6 * node));
    CHECK(diffusion::backward_bytes(N, E, H, D, 5, HopMemory::recompute, groups) ==
          gh * (2 * edge + 4 * node));
    CHECK(diffusion::backward_bytes(N, E, H, D, 5, HopMemory::keep, groups) == gh * (2 * edge + 2 * node));
  }
  CHECK(diffusion::backward_bytes(N, E, H, D, 0, HopMemory::store, 4) == 0);
  // The benchmark's layer: d_model 768, 12 heads, FFN 3072, K = 5, the authors' graph.
  attention::LayerOptions o;
  o.d_model = 768;
  o.heads = 12;
  o.intermediate = 3072;
  CHECK(attention::head_group_budget_bytes(o, N) == N * 3 * 768 * 4);
  CHECK(attention::attention_head_groups(o, N, E) == 6);           // 2 heads: 119.5 MiB <= 144 MiB
  CHECK(attention::attention_head_groups(o, 4096, 1145482) == 6);  // 2 heads: 29.5 MiB <= 36 MiB
  o.head_groups = 4;
  CHECK(attention::attention_head_groups(o, N, E) == 4);
  o.head_groups = 0;
  // Small problems stay whole when they fit.
  CHECK(diffusion::auto_head_groups(100, 1000, 12, 64, 5, HopMemory::store, 1 << 30) == 1);
  CHECK(diffusion::auto_head_groups(100, 1000, 12, 64, 5, HopMemory::store, 1) == 12);
  // The layer's backward peak follows the groups: attention phase = 5 T d + the diffusion's.
  const std::int64_t Td = N * 768 * 4;
  o.head_groups = 1;
  CHECK(attention::layer_backward_peak_bytes(o, N, E) ==
        5 * Td + diffusion::backward_bytes(N, E, H, D, 5, HopMemory::store, 1));
  o.head_groups = 6;
  const std::int64_t ffn = N * (3 * 768 + 3072) * 4;
  CHECK(attention::layer_backward_peak_bytes(o, N, E) ==
        std::max(ffn, 5 * Td + diffusion::backward_bytes(N, E, H, D, 5, HopMemory::store, 6)));
  // Under 1,000 MiB for a training step with y, dx and the gradients (about 27 MiB) on top.
  CHECK(attention::layer_step_peak_bytes(o, N, E) + 2 * Td + 28 * (1 << 20) < 1000LL * (1 << 20));
}

TEST_CASE("CUDA: dropout head slices match the whole tensor's masks and the CPU's",
          "[cuda][attention][heads]") {
  if (skip_without_gpu()) return;
  check_sliced_masks(Device::cuda);
  // The GPU's sliced masks equal the CPU's bit for bit.
  const std::int64_t n = 19, H = kHeads, D = 64;
  const auto vals = ta::random_values(static_cast<std::size_t>(n * H * D), 8);
  Tensor3<float> c = ta::tensor_from(vals, n, H, D);
  Tensor3<float> gdev = c.to(Device::cuda);
  ops::dropout(heads_of(c.view(), 6, 3), 0.2f, 7, 3, {6, H});
  ops::dropout(heads_of(gdev.view(), 6, 3), 0.2f, 7, 3, {6, H});
  CHECK(same_bits(host_floats(gdev.buffer()), host_floats(c.buffer())));
}

TEST_CASE("CUDA: grouped diffusion and layer backward equal the ungrouped ones", "[cuda][attention][heads]") {
  if (skip_without_gpu()) return;
  const Problem pr(600, 64, 21, true, Device::cuda);
  const Problem pc(600, 64, 21, true);
  for (const auto& c : coefficient_cases()) {
    for (bool with_drop : {false, true}) {
      const diffusion::DiffusionDropout drop = with_drop ? test_dropout() : diffusion::DiffusionDropout{};
      for (HopMemory memory : {HopMemory::store, HopMemory::recompute, HopMemory::keep}) {
        CAPTURE(c.describe(), with_drop, static_cast<int>(memory));
        const std::vector<float> whole = pr.backward(c, drop, memory, 1);
        for (int groups : kGroups) {
          CAPTURE(groups);
          CHECK(g::rel(as_double(pr.backward(c, drop, memory, groups)), as_double(whole)) <= 1e-6);
        }
        CHECK(g::rel(as_double(whole), as_double(pc.backward(c, drop, memory, 4))) <= 1e-5);
      }
    }
  }
  for (bool dropout : {false, true}) {
    CAPTURE(dropout);
    LayerCase lc(false, dropout, Coefficients::ppr(5, 0.1), HopMemory::store, Device::cuda);
    const std::vector<float> whole = lc.step(1);
    for (int groups : {0, 2, 3, 4, 12}) {
      CAPTURE(groups);
      CHECK(g::rel(as_double(lc.step(groups)), as_double(whole)) <= 1e-6);
    }
  }
}
