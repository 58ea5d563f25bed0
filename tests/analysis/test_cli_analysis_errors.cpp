// Every bad input to reach, spectral, mass, viz and report: exit 2 for usage, 1 for data, one line
// on stderr that names the value or file, and no output file left behind.
#include <catch2/catch.hpp>

#include <diffuser/engine/npy.hpp>

#include "tools/cli_runner.hpp"

using namespace diffuser;
using namespace diffuser::test::cli;
using Catch::Matchers::Contains;

namespace {

void fails(const std::vector<std::string>& args, int code, const std::string& mention, const TempDir& dir) {
  const RunResult r = run_cli(args, dir.path());
  std::string cmd;
  for (const auto& a : args) cmd += a + " ";
  INFO("diffuser " << cmd << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE_FALSE(r.signaled);
  CHECK(r.exit_code == code);
  CHECK(r.err_lines() == 1);
  CHECK_THAT(r.err, Contains(mention));
  for (const auto& name : dir.listing())
    CHECK((name == "q.npy" || name == "k.npy" || name == "bad.npy" || name == "g.txt"));
}

}  // namespace

TEST_CASE("analysis commands reject bad input clearly", "[cpu][analysis]") {
  TempDir dir;
  const std::vector<std::string> g{"--pattern", "window:2", "--n", "32"};
  auto with = [&](std::vector<std::string> head, std::vector<std::string> tail) {
    head.insert(head.end(), g.begin(), g.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  std::vector<float> q(32 * 2 * 4, 0.5f), q_short(31 * 2 * 4, 0.5f);
  npy::save(dir / "q.npy", q.data(), {32, 2, 4});
  npy::save(dir / "k.npy", q.data(), {32, 2, 4});
  npy::save(dir / "bad.npy", q_short.data(), {31, 2, 4});
  write_file(dir / "g.txt", "0 1\n1 x\n");

  SECTION("reach") {
    fails(with({"reach"}, {"--max-hops", "0"}), 2, "--max-hops", dir);
    fails(with({"reach"}, {"--max-hops", "two"}), 2, "two", dir);
    fails(with({"reach"}, {"--sample", "0"}), 2, "--sample", dir);
    fails(with({"reach"}, {"--sample", "5", "--exact"}), 2, "--exact", dir);
    fails(with({"reach"}, {"--confidence", "1.5"}), 2, "--confidence", dir);
    fails(with({"reach"}, {"--bogus"}), 2, "--bogus", dir);
    fails({"reach", "--pattern", "window:2", "--n", "1"}, 1, "at least 2", dir);
    fails({"reach", "--pattern", "nonsense:3", "--n", "10"}, 2, "nonsense", dir);
    fails({"reach", "--graph", "missing.txt"}, 1, "missing.txt", dir);
    fails({"reach", "--graph", "g.txt"}, 1, "g.txt", dir);
  }
  SECTION("spectral") {
    fails(with({"spectral"}, {"--tol", "0"}), 2, "--tol", dir);
    fails(with({"spectral"}, {"--max-iter", "0"}), 2, "--max-iter", dir);
    fails(with({"spectral"}, {"--krylov-dim", "2"}), 2, "--krylov-dim", dir);
    fails(with({"spectral"}, {"--threads", "0"}), 2, "--threads", dir);
    fails({"spectral", "--pattern", "window:1", "--n", "1"}, 1, "at least 2", dir);
  }
  SECTION("mass") {
    fails(with({"mass"}, {"--q", "q.npy"}), 2, "--k", dir);
    fails(with({"mass"}, {"--q", "bad.npy", "--k", "k.npy"}), 1, "bad.npy", dir);
    fails(with({"mass"}, {"--q", "q.npy", "--k", "nothere.npy"}), 1, "nothere.npy", dir);
    fails(with({"mass"}, {"--theta", "0.5,-1"}), 2, "--theta", dir);
    fails(with({"mass"}, {"--theta", "0.5,0.5", "--hops", "3"}), 2, "--hops", dir);
    fails(with({"mass"}, {"--alpha", "2"}), 2, "--alpha", dir);
    fails(with({"mass"}, {"--hops", "999"}), 2, "--hops", dir);
    fails(with({"mass"}, {"--sample", "-3"}), 2, "--sample", dir);
  }
  SECTION("viz") {
    fails(with({"viz"}, {}), 2, "--out", dir);
    fails(with({"viz"}, {"--out", "p.bmp"}), 2, "p.bmp", dir);
    fails(with({"viz"}, {"--out", "p.svg", "--kind", "bogus"}), 2, "bogus", dir);
    fails(with({"viz"}, {"--out", "p.svg", "--kind", "field", "--token", "32"}), 1, "--token 32", dir);
    fails(with({"viz"}, {"--out", "p.svg", "--kind", "field", "--hops", "0"}), 2, "--hops", dir);
    fails(with({"viz"}, {"--out", "p.svg", "--hops", "3"}), 2, "--hops", dir);
    fails(with({"viz"}, {"--out", "p.svg", "--kind", "reach", "--alpha", "0.2"}), 2,
          "--alpha applies to --kind attention", dir);
    fails(with({"viz"}, {"--out", "p.svg", "--layout", "circle"}), 2, "--layout", dir);
    fails(with({"viz"}, {"--out", "p.svg", "--kind", "graph", "--layout", "spiral"}), 2, "spiral", dir);
    fails(with({"viz"}, {"--out", "no/such/dir/p.svg"}), 1, "no/such/dir", dir);
    fails(with({"viz"}, {"--out", "p.svg", "--kind", "attention", "--q", "bad.npy", "--k", "k.npy"}), 1,
          "bad.npy", dir);
    fails({"viz", "--pattern", "window:1", "--n", "300", "--kind", "graph", "--out", "g.svg"}, 1, "256", dir);
    fails({"viz", "--pattern", "window:1", "--n", "20000", "--kind", "reach", "--out", "r.png"}, 1, "16,384",
          dir);
  }
  SECTION("report") {
    fails({"report", "--n", "64", "--out", "r.html"}, 2, "--pattern", dir);
    fails({"report", "--pattern", "window:2", "--out", "r.html"}, 2, "--n", dir);
    fails({"report", "--pattern", "window:2", "--pattern", "wndow:2", "--n", "64", "--out", "r.html"}, 2,
          "wndow", dir);
    fails({"report", "--pattern", "window:2", "--n", "64", "--out", "r.txt"}, 2, "r.txt", dir);
    fails({"report", "--pattern", "=window:2", "--n", "64", "--out", "r.html"}, 2, "LABEL=SPEC", dir);
    fails({"report", "--pattern", "window:2", "--n", "64"}, 2, "--out", dir);
    fails({"report", "--pattern", "window:2", "--n", "1", "--out", "r.html"}, 2, "--n", dir);
  }
}
