// The CPU levels (generic, avx2, avx512; engine/cpu/isa_begin.hpp): every level this machine runs
// is checked against float64 and against the others (within 1e-6 relative), is bitwise independent
// of the thread count, and gives a head the same bits in a head group as among all heads (what
// makes store / recompute / keep and the head-grouped backward agree bit for bit).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/cpu_isa.hpp>
#include <diffuser/engine/environment.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "support/context.hpp"
#include "support/reference.hpp"

using namespace diffuser;

namespace {

// A view of heads [h0, h0 + count) of t.
template <class T>
Tensor3View<T> heads(Tensor3View<T> t, std::int64_t h0, std::int64_t count) {
  return {t.data + h0 * t.stride_h, t.n, count, t.d, t.stride_n, t.stride_h, t.device};
}

struct Problem {
  std::string name;
  Csr g;
  std::int64_t H, D;
  std::int64_t hub_threshold;  // 0: the default rule
};

std::vector<Problem> problems() {
  std::vector<Problem> p;
  p.push_back(
      {"recipe n=1100, D=64 (panels, hub rows)", graphs::build_pattern("diffuser", 1100, 3), 12, 64, 600});
  p.push_back({"recipe n=700, D=8 (any-D kernels)", graphs::build_pattern("diffuser", 700, 4), 6, 8, 300});
  p.push_back(
      {"random, hubs and empty rows, D=32", test::random_graph(600, 17, 5, {3, 400}, {0, 7, 599}), 4, 32, 0});
  return p;
}

// Everything the forward and backward of a problem produce, in one vector.
// keep_weights: the forward keeps its weights and the backward takes them.
std::vector<float> forward_backward(const Problem& p, diffusion::HopMemory memory, int groups,
                                    bool keep_weights = false) {
  const std::int64_t n = p.g.num_nodes();
  const auto q = test::random_tensor(n, p.H, p.D, 1), k = test::random_tensor(n, p.H, p.D, 2);
  const auto v = test::random_tensor(n, p.H, p.D, 3), dz = test::random_tensor(n, p.H, p.D, 4);
  const auto c = diffusion::Coefficients::ppr(4, 0.1);
  diffusion::DiffusionDropout drop;
  drop.p_hops = 0.1f;
  drop.p_weights = 0.1f;
  drop.seed = 9;
  Tensor3<float> z(n, p.H, p.D), scratch(n, p.H, p.D), dq(n, p.H, p.D), dk(n, p.H, p.D), dv(n, p.H, p.D);
  std::vector<Tensor3<float>> states;
  Matrix<float> weights;
  if (keep_weights) {
    weights = Matrix<float>(p.g.num_edges(), p.H);
    diffusion::ForwardKeep keep;
    keep.weights = weights.view();
    diffusion::diffuse_forward(p.g, q.view(), k.view(), v.view(), {}, c, drop, z.view(), scratch.view(),
                               keep);
  } else {
    diffusion::diffuse_forward(p.g, q.view(), k.view(), v.view(), {}, c, drop, z.view(), scratch.view(), 0.0f,
                               memory == diffusion::HopMemory::keep ? &states : nullptr);
  }
  const ReverseGraph rg(p.g);
  diffusion::BackwardOptions bo;
  bo.dropout = drop;
  bo.memory = memory;
  bo.head_groups = groups;
  if (memory == diffusion::HopMemory::keep) bo.hop_inputs = diffusion::views_of(states);
  if (keep_weights) bo.weights = weights.view();
  diffusion::diffuse_backward(p.g, rg, q.view(), k.view(), v.view(), {}, c, dz.view(), dq.view(), dk.view(),
                              dv.view(), bo, nullptr);
  std::vector<float> out = z.buffer().to_vector();
  for (const auto* t : {&dq, &dk, &dv}) {
    const auto x = t->buffer().to_vector();
    out.insert(out.end(), x.begin(), x.end());
  }
  return out;
}

// Runs f at `isa` with the problem's hub threshold and `threads`.
template <class F>
auto at(CpuIsa isa, const Problem& p, int threads, F&& f) {
  return test::with_options(
      [&](ContextOptions& o) {
        o.cpu.isa = isa;
        o.cpu.threads = threads;
        o.cpu.hub_threshold = p.hub_threshold;
      },
      std::forward<F>(f));
}

}  // namespace

TEST_CASE("every CPU level this machine runs is tested", "[cpu][engine][levels]") {
  const auto levels = cpu_isa_levels();
  REQUIRE(!levels.empty());
  REQUIRE(levels.back() == cpu_isa_best());
  // The generic level is compiled in every portable build and runs everywhere.
  if (cpu_isa_compiled(CpuIsa::generic)) REQUIRE(levels.front() == CpuIsa::generic);
  for (CpuIsa l : levels) {
    CAPTURE(cpu_isa_name(l));
    REQUIRE(cpu_isa_supported(l));
    REQUIRE(parse_cpu_isa(cpu_isa_name(l)) == l);
    REQUIRE_NOTHROW(test::with_isa(l, [] { return current_context().cpu_isa(); }) == l);
  }
  WARN("CPU levels tested here: " << [&] {
    std::string s;
    for (CpuIsa l : levels) s += std::string(s.empty() ? "" : ", ") + cpu_isa_name(l);
    return s;
  }());
}

TEST_CASE("the dense panels are on by default at the avx2 and avx512 levels", "[cpu][engine][levels]") {
  // Decided by measurement (BENCHMARKS.md, "CPU levels"); an explicit choice always wins.
  for (const CpuIsa l : test::cpu_levels()) {
    CAPTURE(cpu_isa_name(l));
    REQUIRE(test::with_isa(l, [] { return current_context().cpu_panels(); }) == (l != CpuIsa::generic));
  }
}

TEST_CASE("a CPU level this machine or build lacks, or an unknown one, is a usage error",
          "[cpu][engine][levels]") {
  REQUIRE_THROWS_AS(parse_cpu_isa("avx1024"), UsageError);
  REQUIRE_THROWS_WITH(parse_cpu_isa("sse9"), Catch::Contains("generic, avx2 or avx512"));
  for (CpuIsa l : {CpuIsa::generic, CpuIsa::avx2, CpuIsa::avx512}) {
    if (cpu_isa_compiled(l) && cpu_isa_supported(l)) continue;
    CAPTURE(cpu_isa_name(l));
    ContextOptions o;
    o.cpu.isa = l;
    REQUIRE_THROWS_AS(Context(o), UsageError);
  }
  ContextOptions bad;
  bad.cpu.threads = -1;
  REQUIRE_THROWS_AS(Context(bad), UsageError);
}

TEST_CASE("the environment maps to context options, and bad values are usage errors",
          "[cpu][engine][levels]") {
  struct Env {  // sets a variable, then restores what the process had (ctest may set DIFFUSER_CPU_ISA)
    const char* name;
    std::optional<std::string> before;
    Env(const char* n, const char* v) : name(n) {
      if (const char* old = std::getenv(n)) before = old;
      ::setenv(n, v, 1);
    }
    ~Env() {
      if (before)
        ::setenv(name, before->c_str(), 1);
      else
        ::unsetenv(name);
    }
  };
  {
    Env e("DIFFUSER_CPU_ISA", "generic");
    REQUIRE(context_options_from_environment().cpu.isa == CpuIsa::generic);
  }
  {
    Env e("DIFFUSER_CPU_ISA", "avx3");
    REQUIRE_THROWS_WITH(context_options_from_environment(),
                        Catch::Contains("DIFFUSER_CPU_ISA") && Catch::Contains("avx3"));
  }
  {
    Env a("DIFFUSER_PANELS", "0"), b("DIFFUSER_HUB_ROWS", "1"), c("DIFFUSER_THREADS", "3");
    const ContextOptions o = context_options_from_environment();
    REQUIRE(o.cpu.panels == false);
    REQUIRE(o.cpu.hub_rows);
    REQUIRE(o.cpu.threads == 3);
  }
  {
    Env e("DIFFUSER_PANELS", "maybe");
    REQUIRE_THROWS_AS(context_options_from_environment(), UsageError);
  }
  {
    Env e("DIFFUSER_NO_PANELS", "1");  // the old name: refused with the new one, never ignored
    REQUIRE_THROWS_WITH(context_options_from_environment(), Catch::Contains("DIFFUSER_PANELS=0"));
  }
}

TEST_CASE("every CPU level matches float64 and the other levels within 1e-6", "[cpu][engine][levels]") {
  for (const Problem& p : problems()) {
    const std::int64_t n = p.g.num_nodes();
    const auto q = test::random_tensor(n, p.H, p.D, 11), k = test::random_tensor(n, p.H, p.D, 12);
    const auto x = test::random_tensor(n, p.H, p.D, 13);
    const double scale = 1.0 / std::sqrt(double(p.D));
    const auto ref_w = test::edge_values(p.g, test::ref_dense_attention(p.g, q, k, {}, scale), p.H);
    std::vector<std::vector<float>> w_at, z_at;
    for (CpuIsa isa : test::cpu_levels()) {
      CAPTURE(p.name, cpu_isa_name(isa));
      auto [w, z] = at(isa, p, 0, [&] {
        Matrix<float> wm(p.g.num_edges(), p.H);
        ops::edge_attention(p.g.view(), q.view(), k.view(), float(scale), {}, wm.view());
        Tensor3<float> zm(n, p.H, p.D);
        ops::gather_axpby(p.g.view(), MatrixView<const float>(wm.view()), 0.9f, x.view(), 0.0f, {},
                          zm.view());
        return std::pair{wm.buffer().to_vector(), zm.buffer().to_vector()};
      });
      REQUIRE(test::rel_error(w.data(), ref_w) < 1e-5);
      auto ref_z = test::ref_gather(p.g, test::to_double(w.data(), p.g.num_edges() * p.H), x);
      for (auto& t : ref_z) t *= 0.9;
      REQUIRE(test::rel_error(z.data(), ref_z) < 1e-5);
      w_at.push_back(std::move(w));
      z_at.push_back(std::move(z));
    }
    for (std::size_t l = 1; l < w_at.size(); ++l) {
      CAPTURE(p.name, cpu_isa_name(test::cpu_levels()[l]));
      REQUIRE(test::rel_error(w_at[l], w_at[0]) < 1e-6);
      REQUIRE(test::rel_error(z_at[l], z_at[0]) < 1e-6);
    }
  }
}

TEST_CASE("at every CPU level a head gives the same bits alone, in a group or among all heads",
          "[cpu][engine][levels]") {
  for (const Problem& p : problems()) {
    const std::int64_t n = p.g.num_nodes();
    const auto q = test::random_tensor(n, p.H, p.D, 21), k = test::random_tensor(n, p.H, p.D, 22);
    for (CpuIsa isa : test::cpu_levels()) {
      CAPTURE(p.name, cpu_isa_name(isa));
      at(isa, p, 0, [&] {
        Matrix<float> all(p.g.num_edges(), p.H);
        ops::edge_attention(p.g.view(), q.view(), k.view(), 0.2f, {}, all.view());
        for (std::int64_t group : {std::int64_t{1}, p.H / 2}) {
          for (std::int64_t h0 = 0; h0 < p.H; h0 += group) {
            Matrix<float> part(p.g.num_edges(), group);
            ops::edge_attention(p.g.view(), heads(Tensor3View<const float>(q.view()), h0, group),
                                heads(Tensor3View<const float>(k.view()), h0, group), 0.2f, {}, part.view());
            std::int64_t differ = 0;
            for (std::int64_t e = 0; e < p.g.num_edges(); ++e)
              for (std::int64_t h = 0; h < group; ++h)
                differ += part.view().row(e)[h] != all.view().row(e)[h0 + h];
            CAPTURE(group, h0);
            REQUIRE(differ == 0);
          }
        }
        return 0;
      });
    }
  }
}

TEST_CASE(
    "at every CPU level forward and backward are bitwise independent of threads, hop memory and head groups",
    "[cpu][engine][levels]") {
  for (const Problem& p : problems()) {
    for (CpuIsa isa : test::cpu_levels()) {
      CAPTURE(p.name, cpu_isa_name(isa));
      const auto base = at(isa, p, 1, [&] { return forward_backward(p, diffusion::HopMemory::store, 1); });
      REQUIRE(at(isa, p, 2, [&] { return forward_backward(p, diffusion::HopMemory::store, 1); }) == base);
      REQUIRE(at(isa, p, 3, [&] { return forward_backward(p, diffusion::HopMemory::recompute, 2); }) == base);
      REQUIRE(at(isa, p, 2, [&] { return forward_backward(p, diffusion::HopMemory::keep, p.H / 2); }) ==
              base);
      REQUIRE(at(isa, p, 2, [&] {
                return forward_backward(p, diffusion::HopMemory::store, p.H % 3 == 0 ? 3 : 1, true);
              }) == base);
    }
  }
}
