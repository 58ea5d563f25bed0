// `diffuser attend` against the float64 dense reference: PPR, plain attention, theta, heat, the
// padding mask, weight and edge outputs, float64 inputs, pattern graphs and thread-count invariance.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include <diffuser/engine/npy.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "tools/cli_reference.hpp"
#include "tools/cli_runner.hpp"

using namespace diffuser;
using namespace diffuser::test::cli;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> attend_args(std::vector<std::string> extra) {
  std::vector<std::string> a{"attend", "--graph", "g.txt", "--q",   "q.npy", "--k",
                             "k.npy",  "--v",     "v.npy", "--out", "z.npy"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::vector<float> load_f32(const fs::path& p, const std::vector<std::int64_t>& shape) {
  npy::Header h;
  auto b = npy::load_f32(p, &h);
  REQUIRE(h.dtype == npy::DType::f4);
  REQUIRE(h.shape == shape);
  return b.to_vector();
}

RunResult run_ok(const std::vector<std::string>& args, const TempDir& dir) {
  RunResult r = run_cli(args, dir.path());
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE_FALSE(r.signaled);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.err.empty());
  return r;
}

// Runs attend with `extra` and compares Z with `ref`.
void check_z(const TempDir& dir, const Problem& p, const std::vector<std::string>& extra,
             const std::vector<double>& ref) {
  run_ok(attend_args(extra), dir);
  const auto z = load_f32(dir / "z.npy", {p.n, p.h, p.d});
  CHECK(rel_error(z, ref) <= 1e-5);
}

}  // namespace

TEST_CASE("attend matches the float64 reference for every kind of coefficients", "[cpu][tools]") {
  TempDir dir;
  const Problem p = random_problem(40, 2, 8, 11);
  write_problem(p, dir.path());
  const auto a = ref_attention(p);

  SECTION("defaults: PPR K = 5, alpha = 0.1; prints budget, stages and peak RSS") {
    const RunResult r = run_ok(attend_args({}), dir);
    CHECK_THAT(r.out, Contains("memory budget"));
    CHECK_THAT(r.out, Contains("weights"));
    CHECK_THAT(r.out, Contains("hop 5"));
    CHECK_THAT(r.out, Contains("write"));
    CHECK_THAT(r.out, Contains("peak RSS"));
    const auto z = load_f32(dir / "z.npy", {p.n, p.h, p.d});
    CHECK(rel_error(z, ref_ppr(p, a, 5, 0.1)) <= 1e-5);
    CHECK(dir.listing() == std::set<std::string>{"g.txt", "q.npy", "k.npy", "v.npy", "z.npy"});
  }
  SECTION("--hops 0 is plain sparse attention") {
    check_z(dir, p, {"--hops", "0"}, ref_ppr(p, a, 0, 0.1));
  }
  SECTION("--hops 3 --alpha 0.3") {
    check_z(dir, p, {"--hops", "3", "--alpha", "0.3"}, ref_ppr(p, a, 3, 0.3));
  }
  SECTION("--hops 1") {
    check_z(dir, p, {"--hops=1"}, ref_ppr(p, a, 1, 0.1));
  }
  SECTION("--theta") {
    check_z(dir, p, {"--theta", "0.5,0.3,0.15,0.05"}, ref_theta(p, a, {0.5, 0.3, 0.15, 0.05}));
  }
  SECTION("--theta with a single value") {
    check_z(dir, p, {"--theta", "2"}, ref_theta(p, a, {2.0}));
  }
  SECTION("--heat") {
    check_z(dir, p, {"--heat", "1.5", "--hops", "4"}, ref_theta(p, a, heat_theta(4, 1.5)));
  }
  SECTION("--heat with the default hop count") {
    check_z(dir, p, {"--heat", "0.7"}, ref_theta(p, a, heat_theta(5, 0.7)));
  }
}

TEST_CASE("attend applies the padding mask in any integer dtype", "[cpu][tools]") {
  TempDir dir;
  Problem p = random_problem(36, 3, 4, 5);
  p.mask.assign(static_cast<std::size_t>(p.n), 1);
  for (std::int64_t i : {1, 4, 5, 17, 30}) p.mask[static_cast<std::size_t>(i)] = 0;
  write_problem(p, dir.path());
  const auto ref = ref_ppr(p, ref_attention(p), 5, 0.1);

  SECTION("uint8") {
    check_z(dir, p, {"--mask", "m.npy"}, ref);
  }
  SECTION("int64 with arbitrary nonzero values") {
    std::vector<std::int64_t> m(p.mask.begin(), p.mask.end());
    for (auto& x : m) x = x ? -7 : 0;
    npy::save(dir / "m8.npy", m.data(), {p.n});
    check_z(dir, p, {"--mask", "m8.npy"}, ref);
  }
  SECTION("bool") {
    std::string bytes = npy_header("{'descr': '|b1', 'fortran_order': False, 'shape': (36,), }");
    for (auto x : p.mask) bytes.push_back(static_cast<char>(x));
    write_file(dir / "mb.npy", bytes);
    check_z(dir, p, {"--mask", "mb.npy"}, ref);
  }
}

TEST_CASE("attend writes weights (E, H) and edges (E, 2) in CSR order", "[cpu][tools]") {
  TempDir dir;
  Problem p = random_problem(30, 2, 8, 3);
  p.mask.assign(static_cast<std::size_t>(p.n), 1);
  p.mask[7] = 0;
  write_problem(p, dir.path());
  run_ok(attend_args({"--mask", "m.npy", "--weights-out", "w.npy", "--edges-out", "e.npy"}), dir);

  std::vector<std::pair<std::int64_t, std::int64_t>> expected;  // (src, dst) by dst, then src
  for (std::int64_t i = 0; i < p.n; ++i)
    for (std::int64_t j = 0; j < p.n; ++j)
      if (p.adj[static_cast<std::size_t>(i * p.n + j)]) expected.emplace_back(j, i);
  const auto E = static_cast<std::int64_t>(expected.size());

  npy::Header he;
  const auto edges = npy::load_i64(dir / "e.npy", &he);
  REQUIRE(he.dtype == npy::DType::i4);
  REQUIRE(he.shape == std::vector<std::int64_t>{E, 2});
  for (std::int64_t e = 0; e < E; ++e) {
    CHECK(edges[static_cast<std::size_t>(2 * e)] == expected[static_cast<std::size_t>(e)].first);
    CHECK(edges[static_cast<std::size_t>(2 * e + 1)] == expected[static_cast<std::size_t>(e)].second);
  }
  const auto w = load_f32(dir / "w.npy", {E, p.h});
  const auto a = ref_attention(p);
  double worst = 0;
  for (std::int64_t e = 0; e < E; ++e)
    for (std::int64_t h = 0; h < p.h; ++h) {
      const auto [j, i] = expected[static_cast<std::size_t>(e)];
      const double want = a[static_cast<std::size_t>((h * p.n + i) * p.n + j)];
      worst = std::max(worst, std::abs(w[static_cast<std::size_t>(e * p.h + h)] - want));
    }
  CHECK(worst <= 1e-6);
  const auto z = load_f32(dir / "z.npy", {p.n, p.h, p.d});
  CHECK(rel_error(z, ref_ppr(p, a, 5, 0.1)) <= 1e-5);
}

TEST_CASE("attend reads float64 inputs and gives the float32 result", "[cpu][tools]") {
  TempDir dir;
  const Problem p = random_problem(25, 2, 4, 9);
  write_problem(p, dir.path());
  run_ok(attend_args({}), dir);
  const auto z32 = load_f32(dir / "z.npy", {p.n, p.h, p.d});
  for (const char* name : {"q", "k", "v"}) {
    const auto f = npy::load_f32(dir / (std::string(name) + ".npy")).to_vector();
    const std::vector<double> d(f.begin(), f.end());
    npy::save(dir / (std::string(name) + "64.npy"), d.data(), {p.n, p.h, p.d});
  }
  run_ok({"attend", "--graph", "g.txt", "--q", "q64.npy", "--k", "k64.npy", "--v", "v64.npy", "--out",
          "z64.npy"},
         dir);
  CHECK(read_file(dir / "z64.npy") == read_file(dir / "z.npy"));
}

TEST_CASE("attend on a pattern graph, and a graph file with --n beyond its largest id", "[cpu][tools]") {
  TempDir dir;
  SECTION("pattern") {
    Problem p = random_problem(24, 2, 8, 21);
    const Csr g = graphs::build_pattern("window:2+global:1", 24, 0);
    std::fill(p.adj.begin(), p.adj.end(), 0);
    for (std::int64_t i = 0; i < p.n; ++i)
      for (std::int32_t j : g.neighbors(i)) p.adj[static_cast<std::size_t>(i * p.n + j)] = 1;
    write_problem(p, dir.path());
    run_ok({"attend", "--pattern", "window:2+global:1", "--n", "24", "--q", "q.npy", "--k", "k.npy", "--v",
            "v.npy", "--out", "z.npy", "--edges-out", "e.npy"},
           dir);
    CHECK(npy::load_i64(dir / "e.npy").size() == static_cast<std::size_t>(2 * g.num_edges()));
    CHECK(rel_error(load_f32(dir / "z.npy", {p.n, p.h, p.d}), ref_ppr(p, ref_attention(p), 5, 0.1)) <= 1e-5);
  }
  SECTION("--graph FILE --n N with trailing tokens that have no edges") {
    Problem p = random_problem(23, 2, 4, 4);
    for (std::int64_t i = 0; i < p.n; ++i)
      for (std::int64_t j = 20; j < p.n; ++j) {
        p.adj[static_cast<std::size_t>(i * p.n + j)] = 0;
        p.adj[static_cast<std::size_t>(j * p.n + i)] = 0;
      }
    write_problem(p, dir.path());
    run_ok(attend_args({"--n", "23"}), dir);
    CHECK(rel_error(load_f32(dir / "z.npy", {p.n, p.h, p.d}), ref_ppr(p, ref_attention(p), 5, 0.1)) <= 1e-5);
  }
}

TEST_CASE("attend gives identical bytes for --threads 1 and --threads 2", "[cpu][tools]") {
  TempDir dir;
  Problem p = random_problem(700, 4, 16, 77, 24);
  p.mask.assign(static_cast<std::size_t>(p.n), 1);
  p.mask[3] = 0;
  write_problem(p, dir.path());
  run_ok(attend_args({"--mask", "m.npy", "--threads", "1", "--weights-out", "w1.npy"}), dir);
  fs::rename(dir / "z.npy", dir / "z1.npy");
  run_ok(attend_args({"--mask", "m.npy", "--threads", "2", "--weights-out", "w2.npy"}), dir);
  CHECK(read_file(dir / "z.npy") == read_file(dir / "z1.npy"));
  CHECK(read_file(dir / "w1.npy") == read_file(dir / "w2.npy"));
}
