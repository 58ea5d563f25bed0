// Dense panels (engine/cpu/panel_plan.*, panels*.cpp): the fused scores + softmax and the fused hop
// on graphs whose rows share sources, against the float64 reference and against the per-row path
// (panels off in the context), at every CPU level; thread-count independence; the plan cache.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <set>
#include <string>

#include <diffuser/engine/ops.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "../engine/cpu/panel_plan.hpp"
#include "support/context.hpp"
#include "support/reference.hpp"

using namespace diffuser;

namespace {

// f() with the CPU options changed by change(CpuOptions&).
template <class Change, class F>
auto with_cpu(Change&& change, F&& f) {
  return test::with_options([&](ContextOptions& o) { change(o.cpu); }, std::forward<F>(f));
}
template <class F>
auto with_panels(bool on, F&& f) {
  return with_cpu([&](CpuOptions& c) { c.panels = on; }, std::forward<F>(f));
}

cpu::Tuning tuning(std::int64_t hub_threshold = 0) {
  cpu::Tuning t;
  t.hub_threshold = hub_threshold;
  return t;
}

bool has_panels(const Csr& g) {
  return cpu::panel_plan(g.view(), cpu::find_hub_rows(g.view(), tuning()), tuning()) != nullptr;
}

// The pattern without the edges into `empty` rows.
Csr pattern_without_rows(const std::string& spec, std::int64_t n, const std::set<std::int32_t>& empty) {
  const EdgeList all = graphs::pattern_edges(spec, n, 7);
  EdgeList kept;
  kept.n = n;
  for (std::int64_t e = 0; e < all.size(); ++e)
    if (!empty.count(all.dst[static_cast<std::size_t>(e)]))
      kept.add(all.src[static_cast<std::size_t>(e)], all.dst[static_cast<std::size_t>(e)]);
  return Csr::from_edges(kept);
}

struct Outputs {
  std::vector<float> w, z;
};

// Fused attention weights, then one fused hop z = a * (W x) + b * y with the weights.
Outputs run(const Csr& g, const Tensor3<float>& q, const Tensor3<float>& k, const Tensor3<float>& x,
            const Tensor3<float>& y, const std::vector<std::uint8_t>& mask, float scale, float a, float b) {
  const ops::NodeMask mview{mask.data(), static_cast<std::int64_t>(mask.size()), Device::cpu};
  Matrix<float> w(g.num_edges(), q.h());
  ops::edge_attention(g.view(), q.view(), k.view(), scale, mview, w.view());
  Tensor3<float> z(x.n(), x.h(), x.d());
  ops::gather_axpby(g.view(), MatrixView<const float>(w.view()), a, x.view(), b, y.view(), z.view());
  return {w.buffer().to_vector(), z.buffer().to_vector()};
}

struct GraphCase {
  std::string name;
  Csr g;
  bool panels;  // whether the plan should use panels
};

}  // namespace

TEST_CASE("panels match the float64 reference and the per-row path", "[cpu][engine][panels]") {
  std::vector<GraphCase> cases;
  cases.push_back({"blocks:32 n=256", graphs::build_pattern("blocks:32", 256), true});
  cases.push_back({"blocks:16 (partial sharing per chunk)", graphs::build_pattern("blocks:16", 200), true});
  cases.push_back({"window:20 (partial sharing)", graphs::build_pattern("window:20", 150), true});
  cases.push_back({"blocks:32+global:3", graphs::build_pattern("blocks:32+global:3", 300, 1), true});
  cases.push_back({"diffuser recipe n=512", graphs::build_pattern("diffuser", 512, 3), true});
  cases.push_back({"diffuser recipe n=1000", graphs::build_pattern("diffuser", 1000, 4), true});
  cases.push_back({"blocks:32 with empty rows",
                   pattern_without_rows("blocks:32", 230, {0, 5, 31, 32, 100, 101, 102, 229}), true});
  cases.push_back(
      {"hub rows + blocks (n=1100)", graphs::build_pattern("blocks:32+global-at:3,700", 1100), true});
  cases.push_back({"random, no sharing", test::random_graph(300, 9, 11, {}, {4}), false});

  const auto [h, d] =
      GENERATE(std::pair<int, int>{3, 64}, std::pair<int, int>{2, 16}, std::pair<int, int>{17, 32},
               std::pair<int, int>{1, 128}, std::pair<int, int>{2, 24});
  const bool masked = GENERATE(false, true);
  const CpuIsa isa = GENERATE(from_range(test::cpu_levels()));
  for (const GraphCase& c : cases) {
    CAPTURE(c.name, h, d, masked, cpu_isa_name(isa));
    const std::int64_t n = c.g.num_nodes();
    REQUIRE(has_panels(c.g) == c.panels);
    const auto q = test::random_tensor(n, h, d, 1), k = test::random_tensor(n, h, d, 2);
    const auto x = test::random_tensor(n, h, d, 3), y = test::random_tensor(n, h, d, 4);
    std::vector<std::uint8_t> mask;
    if (masked) {
      mask.assign(static_cast<std::size_t>(n), 1);
      for (std::int64_t i = 0; i < n; i += 7) mask[static_cast<std::size_t>(i)] = 0;
    }
    const double scale = 1.0 / std::sqrt(double(d));
    const float a = 0.9f, b = 0.1f;
    auto run_with = [&](bool panels) {
      return with_cpu(
          [&](CpuOptions& o) {
            o.isa = isa;
            o.panels = panels;
          },
          [&] { return run(c.g, q, k, x, y, mask, float(scale), a, b); });
    };
    const Outputs with = run_with(true), without = run_with(false);
    // The panel path against the per-row path (both fp32, different summation orders).
    REQUIRE(test::rel_error(with.w, without.w) < 1e-6);
    REQUIRE(test::rel_error(with.z, without.z) < 1e-6);
    // And against float64.
    const auto dense = test::ref_dense_attention(c.g, q, k, mask, scale);
    const auto ref_w = test::edge_values(c.g, dense, h);
    REQUIRE(test::rel_error(with.w.data(), ref_w) < 1e-5);
    const auto wx = test::ref_gather(c.g, test::to_double(with.w.data(), c.g.num_edges() * h), x);
    std::vector<double> ref_z(wx.size());
    for (std::size_t t = 0; t < wx.size(); ++t) ref_z[t] = a * wx[t] + b * double(y.buffer().data()[t]);
    REQUIRE(test::rel_error(with.z.data(), ref_z) < 1e-5);
  }
}

TEST_CASE("panel results do not depend on the thread count", "[cpu][engine][panels]") {
  const CpuIsa isa = GENERATE(from_range(test::cpu_levels()));
  CAPTURE(cpu_isa_name(isa));
  const Csr g = graphs::build_pattern("diffuser", 1000, 9);
  REQUIRE(has_panels(g));
  const std::int64_t n = g.num_nodes(), h = 4, d = 64;
  const auto q = test::random_tensor(n, h, d, 5), k = test::random_tensor(n, h, d, 6);
  const auto x = test::random_tensor(n, h, d, 7), y = test::random_tensor(n, h, d, 8);
  std::vector<Outputs> outs;
  for (int threads : {1, 2, 4}) {
    outs.push_back(with_cpu(
        [&](CpuOptions& o) {
          o.isa = isa;
          o.threads = threads;
          o.panels = true;
        },
        [&] { return run(g, q, k, x, y, {}, 0.125f, 0.9f, 0.1f); }));
  }
  for (std::size_t t = 1; t < outs.size(); ++t) {
    REQUIRE(outs[t].w == outs[0].w);  // bitwise
    REQUIRE(outs[t].z == outs[0].z);
  }
}

TEST_CASE("panel plans belong to their graph: never stale, freed with it", "[cpu][engine][panels]") {
  const std::int64_t n = 256, h = 2, d = 16;
  // Graph A: blocks:32. Graph B: the same n and nnz, but row 40 has other sources (shifted by 100).
  const Csr ga = graphs::build_pattern("blocks:32", n);
  std::vector<std::int64_t> rp(ga.row_ptr().data(), ga.row_ptr().data() + n + 1);
  std::vector<std::int32_t> col_a(ga.col().data(), ga.col().data() + ga.num_edges());
  std::vector<std::int32_t> col_b = col_a;
  {
    std::vector<std::int32_t> row(col_b.begin() + rp[40], col_b.begin() + rp[41]);
    for (auto& j : row) j = static_cast<std::int32_t>((j + 100) % n);
    std::sort(row.begin(), row.end());
    std::copy(row.begin(), row.end(), col_b.begin() + rp[40]);
  }
  const Csr gb = Csr::from_arrays(n, rp, col_b);
  REQUIRE(gb.num_edges() == ga.num_edges());
  REQUIRE(!(gb == ga));
  const auto q = test::random_tensor(n, h, d, 1), k = test::random_tensor(n, h, d, 2);
  const auto x = test::random_tensor(n, h, d, 3), y = test::random_tensor(n, h, d, 4);

  auto reference = [&](const Csr& g) {
    return with_panels(false, [&] { return run(g, q, k, x, y, {}, 0.25f, 0.9f, 0.1f); });
  };
  const Outputs ref_a = reference(ga), ref_b = reference(gb);

  SECTION("two graph objects in turn, each with its own plan") {
    REQUIRE(ga.plans()->entries() == 0);
    for (int round = 0; round < 2; ++round) {
      const Outputs oa = with_panels(true, [&] { return run(ga, q, k, x, y, {}, 0.25f, 0.9f, 0.1f); });
      const Outputs ob = with_panels(true, [&] { return run(gb, q, k, x, y, {}, 0.25f, 0.9f, 0.1f); });
      REQUIRE(test::rel_error(oa.w, ref_a.w) < 1e-6);
      REQUIRE(test::rel_error(oa.z, ref_a.z) < 1e-6);
      REQUIRE(test::rel_error(ob.w, ref_b.w) < 1e-6);
      REQUIRE(test::rel_error(ob.z, ref_b.z) < 1e-6);
    }
    REQUIRE(ga.plans()->entries() == 1);  // built once, reused
    REQUIRE(gb.plans()->entries() == 1);
    REQUIRE(ga.plans()->bytes() > 0);
  }

  SECTION("a bare view over arrays rewritten in place plans afresh every call") {
    // One CSR view whose memory changes between calls: same pointers, n and nnz, other content.
    std::vector<std::int32_t> col = col_a;
    const CsrView view{rp.data(), col.data(), n, static_cast<std::int64_t>(col.size()), Device::cpu};
    REQUIRE(view.plans == nullptr);
    auto run_view = [&]() {
      return with_panels(true, [&] {
        Matrix<float> w(view.nnz, h);
        ops::edge_attention(view, q.view(), k.view(), 0.25f, {}, w.view());
        Tensor3<float> z(n, h, d);
        ops::gather_axpby(view, MatrixView<const float>(w.view()), 0.9f, x.view(), 0.1f, y.view(), z.view());
        return Outputs{w.buffer().to_vector(), z.buffer().to_vector()};
      });
    };
    for (int round = 0; round < 2; ++round) {
      col = col_a;
      Outputs oa = run_view();
      REQUIRE(test::rel_error(oa.w, ref_a.w) < 1e-6);
      REQUIRE(test::rel_error(oa.z, ref_a.z) < 1e-6);
      col = col_b;
      Outputs ob = run_view();
      REQUIRE(test::rel_error(ob.w, ref_b.w) < 1e-6);
      REQUIRE(test::rel_error(ob.z, ref_b.z) < 1e-6);
    }
  }

  SECTION("a caller-held GraphPlans for a bare view, and clear()") {
    GraphPlans plans;
    CsrView view = ga.view();
    view.plans = &plans;
    with_panels(true, [&] {
      Matrix<float> w(view.nnz, h);
      ops::edge_attention(view, q.view(), k.view(), 0.25f, {}, w.view());
      REQUIRE(test::rel_error(w.buffer().to_vector(), ref_a.w) < 1e-6);
    });
    REQUIRE(plans.entries() == 1);
    plans.clear();
    REQUIRE(plans.entries() == 0);
    REQUIRE(plans.bytes() == 0);
  }
}

TEST_CASE("panel plan of the recipe covers the shared sources", "[cpu][engine][panels]") {
  const Csr g = graphs::build_pattern("diffuser", 1000, 2);
  const cpu::HubRows hubs = cpu::find_hub_rows(g.view(), tuning());
  const cpu::PanelPlan p = cpu::build_panel_plan(g.view(), hubs, 32, 50);
  REQUIRE(p.worthwhile);
  // A full aligned 32-row chunk has its 96 block sources and the 64 global ones (minus overlaps).
  std::int64_t outside = 0;  // edges of rows that use no panel
  for (const auto& ch : p.chunks) {
    if (ch.m == 32) REQUIRE(ch.S >= 96);
    if (ch.S == 0)
      for (std::int32_t r = 0; r < ch.m; ++r)
        outside += g.degree(p.rows[static_cast<std::size_t>(ch.rows_off + r)]);
  }
  if (p.hub_chunks.empty())
    for (const auto i : hubs.rows) outside += g.degree(i);
  // Each edge is a panel edge, in a row's rest list, or in a row without panel, exactly once.
  REQUIRE(p.panel_edges + static_cast<std::int64_t>(p.rest.size()) + outside == g.num_edges());
}

namespace {

// n rows; rows [0, hubs) are hub rows whose source j is kept when (j * 7 + i * 13) % 100 < keep_pct
// (keep_pct >= 50: each source in most hub rows, with holes), the others blocks of 32.
Csr partial_hubs(std::int64_t n, std::int32_t hubs, int keep_pct) {
  EdgeList el;
  el.n = n;
  for (std::int32_t i = 0; i < n; ++i)
    for (std::int32_t j = 0; j < n; ++j) {
      const bool edge = i < hubs ? (j * 7 + i * 13) % 100 < keep_pct : j / 32 == i / 32;
      if (edge) el.add(j, i);
    }
  return Csr::from_edges(el);
}

}  // namespace

TEST_CASE("hub rows as dense panels match the references and do not depend on the thread count",
          "[cpu][engine][panels]") {
  struct HubCase {
    std::string name;
    Csr g;
    std::int64_t threshold;  // the hub threshold of the context
    bool hub_panels;         // whether the hub rows go through panels
  };
  std::vector<HubCase> cases;
  cases.push_back({"diffuser recipe n=1100", graphs::build_pattern("diffuser", 1100, 5), 600, true});
  cases.push_back({"diffuser recipe n=2048", graphs::build_pattern("diffuser", 2048, 6), 1500, true});
  cases.push_back({"all hub rows (full n=150)", graphs::build_pattern("full", 150), 100, true});
  cases.push_back({"hub rows with holes", partial_hubs(400, 37, 80), 200, true});
  cases.push_back({"hub rows sharing little", partial_hubs(400, 37, 30), 100, false});
  const auto [h, d] =
      GENERATE(std::pair<int, int>{3, 64}, std::pair<int, int>{2, 32}, std::pair<int, int>{1, 128});
  const bool masked = GENERATE(false, true);
  const CpuIsa isa = GENERATE(from_range(test::cpu_levels()));
  for (const HubCase& c : cases) {
    CAPTURE(c.name, h, d, masked, cpu_isa_name(isa));
    const std::int64_t n = c.g.num_nodes();
    const cpu::HubRows hubs = cpu::find_hub_rows(c.g.view(), tuning(c.threshold));
    REQUIRE(!hubs.rows.empty());
    {
      const auto plan = cpu::panel_plan(c.g.view(), hubs, tuning(c.threshold));
      REQUIRE(plan != nullptr);
      REQUIRE(plan->hub_chunks.empty() != c.hub_panels);
    }
    const auto q = test::random_tensor(n, h, d, 11), k = test::random_tensor(n, h, d, 12);
    const auto x = test::random_tensor(n, h, d, 13), y = test::random_tensor(n, h, d, 14);
    std::vector<std::uint8_t> mask;
    if (masked) {
      mask.assign(static_cast<std::size_t>(n), 1);
      for (std::int64_t i = 0; i < n; i += 5) mask[static_cast<std::size_t>(i)] = 0;
    }
    const double scale = 1.0 / std::sqrt(double(d));
    const float a = 0.8f, b = 0.2f;
    // Runs with the case's hub threshold at this level, the options changed by change(CpuOptions&).
    auto run_case = [&](auto&& change) {
      return with_cpu(
          [&](CpuOptions& o) {
            o.isa = isa;
            o.hub_threshold = c.threshold;
            o.panels = true;
            change(o);
          },
          [&] { return run(c.g, q, k, x, y, mask, float(scale), a, b); });
    };
    std::vector<Outputs> with;  // 1, 2, 4 threads
    for (int threads : {1, 2, 4}) with.push_back(run_case([&](CpuOptions& o) { o.threads = threads; }));
    for (std::size_t t = 1; t < with.size(); ++t) {
      REQUIRE(with[t].w == with[0].w);  // bitwise
      REQUIRE(with[t].z == with[0].z);
    }
    const Outputs per_row = run_case([](CpuOptions& o) { o.panels = false; });
    const Outputs hub_path = run_case([](CpuOptions& o) { o.hub_panels = false; });
    // Hub chunks of up to 48 rows: padded row counts that are not a multiple of 32.
    const Outputs wide = run_case([](CpuOptions& o) { o.hub_chunk_rows = 48; });
    REQUIRE(test::rel_error(with[0].w, wide.w) < 1e-6);
    REQUIRE(test::rel_error(with[0].z, wide.z) < 1e-6);
    REQUIRE(test::rel_error(with[0].w, per_row.w) < 1e-6);
    REQUIRE(test::rel_error(with[0].z, per_row.z) < 1e-6);
    REQUIRE(test::rel_error(with[0].w, hub_path.w) < 1e-6);
    REQUIRE(test::rel_error(with[0].z, hub_path.z) < 1e-6);
    const auto dense = test::ref_dense_attention(c.g, q, k, mask, scale);
    REQUIRE(test::rel_error(with[0].w.data(), test::edge_values(c.g, dense, h)) < 1e-5);
    const auto wx = test::ref_gather(c.g, test::to_double(with[0].w.data(), c.g.num_edges() * h), x);
    std::vector<double> ref_z(wx.size());
    for (std::size_t t = 0; t < wx.size(); ++t) ref_z[t] = a * wx[t] + b * double(y.buffer().data()[t]);
    REQUIRE(test::rel_error(with[0].z.data(), ref_z) < 1e-5);
  }
}

TEST_CASE("hub chunks of the recipe cover the hub rows", "[cpu][engine][panels]") {
  const Csr g = graphs::build_pattern("diffuser", 2048, 2);
  const cpu::HubRows hubs = cpu::find_hub_rows(g.view(), tuning(1500));
  REQUIRE(hubs.rows.size() == 64);
  const cpu::PanelPlan p = cpu::build_panel_plan(g.view(), hubs, 32, 50);
  REQUIRE(p.hub_chunks.size() == 2);
  std::int64_t hub_edges = 0;
  for (const auto i : hubs.rows) hub_edges += g.degree(i);
  for (const auto& ch : p.hub_chunks) {
    REQUIRE(ch.m == 32);
    REQUIRE(ch.S >= 2000);  // a global token attends to every token
  }
  REQUIRE(p.hub_panel_edges * 10 >= hub_edges * 9);
  std::int64_t outside = 0;
  for (const auto& ch : p.chunks)
    if (ch.S == 0)
      for (std::int32_t r = 0; r < ch.m; ++r)
        outside += g.degree(p.rows[static_cast<std::size_t>(ch.rows_off + r)]);
  REQUIRE(p.panel_edges + static_cast<std::int64_t>(p.rest.size()) + outside == g.num_edges());
}
