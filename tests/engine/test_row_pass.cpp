// Primitives in two passes (ops::RowPass, used to overlap the distributed halo exchange): the first
// pass over the marked rows then the second equal one call bit for bit, on every kernel path (per
// row, dense panels, hub rows tiled and as panels) at every CPU level; the first pass writes only
// marked rows and reads its inputs only at them and their sources (everything else is NaN then).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops.hpp>
#include <diffuser/engine/ops_backward.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "support/context.hpp"
#include "support/reference.hpp"

using namespace diffuser;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kUnwritten = 12345.0f;

// A copy of x whose rows outside `keep` are NaN.
Tensor3<float> poisoned(const Tensor3<float>& x, const std::vector<std::uint8_t>& keep) {
  Tensor3<float> p(x.n(), x.h(), x.d());
  const std::int64_t row = x.h() * x.d();
  for (std::int64_t i = 0; i < x.n(); ++i)
    for (std::int64_t t = 0; t < row; ++t)
      p.buffer()[i * row + t] = keep[static_cast<std::size_t>(i)] ? x.buffer()[i * row + t] : kNaN;
  return p;
}

// The marked rows and the sources of their edges (what the first pass may read).
std::vector<std::uint8_t> readable(const Csr& g, const std::vector<std::uint8_t>& marked) {
  std::vector<std::uint8_t> r(marked);
  for (std::int64_t i = 0; i < g.num_nodes(); ++i)
    if (marked[static_cast<std::size_t>(i)])
      for (std::int64_t e = g.row_ptr()[i]; e < g.row_ptr()[i + 1]; ++e)
        r[static_cast<std::size_t>(g.col()[e])] = 1;
  return r;
}

bool same_bits(const float* a, const float* b, std::int64_t count) {
  return std::memcmp(a, b, static_cast<std::size_t>(count) * sizeof(float)) == 0;
}

// Row i of a (rows of row_floats floats, or the row's edges when per_edge) as in b.
bool same_row(const float* a, const float* b, const Csr& g, std::int64_t i, std::int64_t row_floats,
              bool per_edge) {
  const std::int64_t begin = per_edge ? g.row_ptr()[i] * row_floats : i * row_floats;
  const std::int64_t end = per_edge ? g.row_ptr()[i + 1] * row_floats : (i + 1) * row_floats;
  return same_bits(a + begin, b + begin, end - begin);
}

// True when the values of rows that pass 1 must not write still hold kUnwritten.
bool untouched(const float* x, const Csr& g, const std::vector<std::uint8_t>& marked, std::int64_t row_floats,
               bool per_edge) {
  for (std::int64_t i = 0; i < g.num_nodes(); ++i) {
    if (marked[static_cast<std::size_t>(i)]) continue;
    const std::int64_t b = per_edge ? g.row_ptr()[i] * row_floats : i * row_floats;
    const std::int64_t e = per_edge ? g.row_ptr()[i + 1] * row_floats : (i + 1) * row_floats;
    for (std::int64_t t = b; t < e; ++t)
      if (x[t] != kUnwritten) return false;
  }
  return true;
}

struct Path {
  std::string name;
  bool panels, hub_panels, hub_rows;
};

}  // namespace

TEST_CASE("two row passes equal one call bit for bit and the first reads only what it may",
          "[cpu][engine][panels]") {
  // Blocks share sources (panels), two global tokens are hubs (threshold 300 here), random edges.
  const Csr g = graphs::build_pattern("blocks:32+random:3+global-at:5,650", 1000, 3);
  const std::int64_t n = g.num_nodes(), h = 3;
  // Marked: two runs of rows (whole panel chunks and a partial one), hub row 5, and hub row 650 or not
  // (a hub chunk holds both: it runs in the first pass only with both).
  const bool both_hubs = GENERATE(false, true);
  std::vector<std::uint8_t> marked(static_cast<std::size_t>(n), 0);
  for (std::int64_t i = 0; i < n; ++i)
    marked[static_cast<std::size_t>(i)] = (i < 300 || (i >= 660 && i < 900)) ? 1 : 0;
  marked[650] = both_hubs ? 1 : 0;
  const ops::RowPass first{{marked.data(), n}, false}, second{{marked.data(), n}, true};
  const std::vector<std::uint8_t> may_read = readable(g, marked);

  // Rows the first pass must compute: row 40 (its panel chunk, rows 32-63, is all marked) and hub
  // row 5, unless it shares its hub panel chunk with the unmarked hub row 650.
  auto first_computes = [&](const Path& p) {
    std::vector<std::int64_t> rows{40};
    if (!p.panels || !p.hub_panels || !p.hub_rows || both_hubs) rows.push_back(5);
    return rows;
  };
  const Path path = GENERATE(
      Path{"per row + tiled hubs", false, false, true}, Path{"panels + hub panels", true, true, true},
      Path{"panels + tiled hubs", true, false, true}, Path{"panels, no hub path", true, true, false});
  const std::int64_t d = GENERATE(16, 64, 24);
  const CpuIsa isa = GENERATE(from_range(test::cpu_levels()));
  CAPTURE(both_hubs, path.name, d, cpu_isa_name(isa));
  const auto q = test::random_tensor(n, h, d, 1), k = test::random_tensor(n, h, d, 2);
  const auto x = test::random_tensor(n, h, d, 3), y = test::random_tensor(n, h, d, 4);
  const std::int64_t row = h * d;

  // Checked outside: the body may run on a worker thread of the context's arena.
  const std::vector<std::pair<std::string, bool>> results = test::with_options(
      [&](ContextOptions& o) {
        o.cpu.isa = isa;
        o.cpu.panels = path.panels;
        o.cpu.hub_panels = path.hub_panels;
        o.cpu.hub_rows = path.hub_rows;
        o.cpu.hub_threshold = 300;
      },
      [&] {
        std::vector<std::pair<std::string, bool>> r;
        // Scores + softmax.
        const float scale = 0.25f;
        Matrix<float> w(g.num_edges(), h), w2(g.num_edges(), h);
        ops::edge_attention(g.view(), q.view(), k.view(), scale, {}, w.view());
        std::fill(w2.buffer().data(), w2.buffer().data() + w2.buffer().size(), kUnwritten);
        const auto qp = poisoned(q, may_read), kp = poisoned(k, may_read);
        ops::edge_attention(g.view(), qp.view(), kp.view(), scale, {}, w2.view(), ops::EdgeLayout::edge_major,
                            first);
        r.emplace_back("scores: pass 1 wrote only marked rows",
                       untouched(w2.buffer().data(), g, marked, h, true));
        for (const std::int64_t i : first_computes(path))
          r.emplace_back(cat("scores: pass 1 computed row ", i),
                         same_row(w2.buffer().data(), w.buffer().data(), g, i, h, true));
        ops::edge_attention(g.view(), q.view(), k.view(), scale, {}, w2.view(), ops::EdgeLayout::edge_major,
                            second);
        r.emplace_back("scores: two passes == one call",
                       same_bits(w.buffer().data(), w2.buffer().data(), w.buffer().size()));

        // One hop.
        const ops::HopWeights hw = ops::prepare_hops(g.view(), w.view(), x.view());
        Tensor3<float> z(n, h, d), z2(n, h, d);
        ops::gather_axpby(g.view(), hw, 0.9f, x.view(), 0.1f, y.view(), z.view());
        std::fill(z2.buffer().data(), z2.buffer().data() + z2.buffer().size(), kUnwritten);
        const auto xp = poisoned(x, may_read), yp = poisoned(y, marked);
        ops::gather_axpby(g.view(), hw, 0.9f, xp.view(), 0.1f, yp.view(), z2.view(), first);
        r.emplace_back("hop: pass 1 wrote only marked rows",
                       untouched(z2.buffer().data(), g, marked, row, false));
        for (const std::int64_t i : first_computes(path))
          r.emplace_back(cat("hop: pass 1 computed row ", i),
                         same_row(z2.buffer().data(), z.buffer().data(), g, i, row, false));
        ops::gather_axpby(g.view(), hw, 0.9f, x.view(), 0.1f, y.view(), z2.view(), second);
        r.emplace_back("hop: two passes == one call",
                       same_bits(z.buffer().data(), z2.buffer().data(), z.buffer().size()));

        // A hop's backward over the reverse graph (rows = sources): marked sources first.
        const ReverseGraph rg(g);
        Matrix<float> dw(g.num_edges(), h), dw2(g.num_edges(), h);
        dw.buffer().zero();
        dw2.buffer().zero();
        Tensor3<float> dx(n, h, d), dx2(n, h, d);
        ops::hop_backward(rg.view(), w.view(), 0.9f, z.view(), x.view(), 0.0f, {}, dw.view(), dx.view());
        const std::vector<std::uint8_t> may_read_p = readable(rg.graph(), marked);
        const auto pp = poisoned(z, may_read_p), xq = poisoned(x, marked);
        std::fill(dx2.buffer().data(), dx2.buffer().data() + dx2.buffer().size(), kUnwritten);
        ops::hop_backward(rg.view(), w.view(), 0.9f, pp.view(), xq.view(), 0.0f, {}, dw2.view(), dx2.view(),
                          first);
        r.emplace_back("hop backward: pass 1 wrote only marked rows",
                       untouched(dx2.buffer().data(), rg.graph(), marked, row, false));
        ops::hop_backward(rg.view(), w.view(), 0.9f, z.view(), x.view(), 0.0f, {}, dw2.view(), dx2.view(),
                          second);
        r.emplace_back("hop backward dx: two passes == one call",
                       same_bits(dx.buffer().data(), dx2.buffer().data(), dx.buffer().size()));
        r.emplace_back("hop backward dw: two passes == one call",
                       same_bits(dw.buffer().data(), dw2.buffer().data(), dw.buffer().size()));
        return r;
      });
  for (const auto& [what, ok] : results) {
    CAPTURE(what);
    CHECK(ok);
  }
}

TEST_CASE("a row pass of the wrong size is refused", "[cpu][engine]") {
  const Csr g = graphs::build_pattern("window:2", 50);
  const auto x = test::random_tensor(50, 2, 8, 1);
  Matrix<float> w(g.num_edges(), 2);
  std::vector<std::uint8_t> marked(49, 1);
  const ops::RowPass pass{{marked.data(), 49}, false};
  CHECK_THROWS_WITH(ops::edge_attention(g.view(), x.view(), x.view(), 1.0f, {}, w.view(),
                                        ops::EdgeLayout::edge_major, pass),
                    Catch::Contains("row pass marks 49 rows but the graph has 50"));
}
