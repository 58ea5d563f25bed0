// `diffuser graph`: statistics of a small pattern, every --out format read back through --graph,
// JSON output, --help, --version and the top-level usage.
#include <catch2/catch.hpp>

#include <regex>

#include <diffuser/graphs/formats.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "tools/cli_runner.hpp"

using namespace diffuser;
using namespace diffuser::test::cli;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
namespace fs = std::filesystem;

namespace {

RunResult run_ok(const std::vector<std::string>& args, const TempDir& dir) {
  RunResult r = run_cli(args, dir.path());
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE_FALSE(r.signaled);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.err.empty());
  return r;
}

// The integer after "key": in one JSON line.
long long json_int(const std::string& json, const std::string& key) {
  std::smatch m;
  REQUIRE(std::regex_search(json, m, std::regex("\"" + key + "\": ?(-?[0-9]+)")));
  return std::stoll(m[1]);
}

}  // namespace

TEST_CASE("graph prints the statistics of a small pattern", "[cpu][tools]") {
  TempDir dir;
  // window:1 over 10 tokens: 10 self loops + 2 * 9 neighbours.
  const RunResult text = run_ok({"graph", "--pattern", "window:1", "--n", "10"}, dir);
  CHECK_THAT(text.out, Contains("28"));
  CHECK_THAT(text.out, Contains("build time"));
  const RunResult json = run_ok({"graph", "--pattern", "window:1", "--n", "10", "--json"}, dir);
  CHECK_THAT(json.out, StartsWith("{"));
  CHECK(json_int(json.out, "nodes") == 10);
  CHECK(json_int(json.out, "edges") == 28);
  CHECK(json_int(json.out, "self_loops") == 10);
  CHECK(json_int(json.out, "min") == 2);
  CHECK(json_int(json.out, "max") == 3);
  CHECK_THAT(json.out, Contains("\"symmetric\":true"));
  CHECK(dir.listing().empty());
}

TEST_CASE("graph --out writes every format and --graph reads it back", "[cpu][tools]") {
  TempDir dir;
  const std::string spec = "window:2+random:3+global:1";
  const Csr expected = graphs::build_pattern(spec, 40, 5);
  run_ok({"graph", "--pattern", spec, "--n", "40", "--seed", "5", "--out", "direct.txt"}, dir);
  const std::string direct = read_file(dir / "direct.txt");
  for (const std::string ext : {"txt", "mtx", "npy", "dot", "graphml"}) {
    DYNAMIC_SECTION("format ." << ext) {
      const std::string file = "g." + ext;
      const RunResult w =
          run_ok({"graph", "--pattern", spec, "--n", "40", "--seed", "5", "--out", file}, dir);
      CHECK_THAT(w.out, Contains(file));
      const RunResult r = run_ok({"graph", "--graph", file, "--json"}, dir);
      CHECK(json_int(r.out, "nodes") == 40);
      CHECK(json_int(r.out, "edges") == expected.num_edges());
      CHECK(graphs::read_graph(dir / file) == expected);
      // Converting back to an edge list gives the bytes of the direct one.
      run_ok({"graph", "--graph", file, "--out", "back.txt"}, dir);
      CHECK(read_file(dir / "back.txt") == direct);
      for (const auto& name : dir.listing()) CHECK(name.find(".tmp-") == std::string::npos);
    }
  }
}

TEST_CASE("help, version and the top-level usage", "[cpu][tools]") {
  TempDir dir;
  for (const std::string cmd : {"graph", "attend", "demo"}) {
    const RunResult r = run_ok({cmd, "--help"}, dir);
    CHECK_THAT(r.out, Contains("usage: diffuser " + cmd));
    CHECK_THAT(r.out, Contains("example"));
  }
  const RunResult g = run_ok({"graph", "--help"}, dir);
  for (const char* term :
       {"window", "blocks", "dilated", "global", "global-random", "global-at", "random", "bigbird", "self",
        "full", "diffuser", "file:", "plugin:", ".mtx", ".graphml", "j -> i"})
    CHECK_THAT(g.out, Contains(term));
  const RunResult a = run_ok({"attend", "--help"}, dir);
  for (const char* opt :
       {"--q", "--k", "--v", "--mask", "--hops", "--alpha", "--theta", "--heat", "--threads", "--backend",
        "--out", "--weights-out", "--edges-out", "--pattern", "--graph"})
    CHECK_THAT(a.out, Contains(opt));
  const RunResult d = run_ok({"demo", "--help"}, dir);
  for (const char* opt : {"--n", "--pattern", "--heads", "--dim", "--hops", "--alpha", "--seed", "--threads",
                          "--backend", "4096"})
    CHECK_THAT(d.out, Contains(opt));

  const RunResult v = run_ok({"--version"}, dir);
  CHECK_THAT(v.out, StartsWith("diffuser "));
  const RunResult top = run_ok({"--help"}, dir);
  for (const char* cmd : {"graph", "attend", "demo"}) CHECK_THAT(top.out, Contains(cmd));
  const RunResult none = run_cli({}, dir.path());
  CHECK(none.exit_code == 2);
  const RunResult unknown = run_cli({"frobnicate"}, dir.path());
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err_lines() == 1);
  CHECK_THAT(unknown.err, Contains("frobnicate"));
  CHECK(dir.listing().empty());
}
