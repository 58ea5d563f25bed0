// The bad-input matrix: every malformed file, wrong dtype or shape, bad number, unknown term or
// option, unwritable output and unavailable backend ends with exit code 1 (bad data) or 2 (bad
// usage), one line on stderr naming the culprit, no crash, and no file left behind.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include <sys/stat.h>

#include <diffuser/engine/npy.hpp>

#include "tools/cli_reference.hpp"
#include "tools/cli_runner.hpp"

using namespace diffuser;
using namespace diffuser::test::cli;
using Catch::Matchers::Contains;

namespace {

struct Case {
  std::vector<std::string> args;
  int code;
  std::vector<std::string> mentions;  // substrings the error line must contain
};

void expect_failure(const TempDir& dir, const Case& c) {
  const auto before = dir.listing();
  const RunResult r = run_cli(c.args, dir.path());
  std::string cmd = "diffuser";
  for (const auto& a : c.args) cmd += " " + a;
  INFO("command: " << cmd << "\nstdout: " << r.out << "\nstderr: " << r.err);
  CHECK_FALSE(r.signaled);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == c.code);
  CHECK(r.err_lines() == 1);
  CHECK_THAT(r.err, Contains("error"));
  for (const auto& m : c.mentions) CHECK_THAT(r.err, Contains(m));
  CHECK(dir.listing() == before);
}

// The attend command line of the good problem with `replace` (option -> value) applied;
// an empty value drops the option.
std::vector<std::string> attend(std::vector<std::pair<std::string, std::string>> replace,
                                std::vector<std::string> extra = {}) {
  std::vector<std::pair<std::string, std::string>> opts{
      {"--graph", "g.txt"}, {"--q", "q.npy"}, {"--k", "k.npy"}, {"--v", "v.npy"}, {"--out", "z.npy"}};
  for (const auto& [k, v] : replace) {
    bool found = false;
    for (auto& o : opts)
      if (o.first == k) {
        o.second = v;
        found = true;
      }
    if (!found) opts.emplace_back(k, v);
  }
  std::vector<std::string> args{"attend"};
  for (const auto& [k, v] : opts)
    if (!v.empty()) {
      args.push_back(k);
      args.push_back(v);
    }
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// A good problem (N = 16, H = 2, D = 4) plus every bad file the cases use.
void write_files(const TempDir& dir) {
  const Problem p = random_problem(16, 2, 4, 1);
  write_problem(p, dir.path());
  const std::string q = read_file(dir / "q.npy");
  write_file(dir / "trunc.npy", q.substr(0, q.size() - 10));
  write_file(dir / "headtrunc.npy", q.substr(0, 30));
  write_file(dir / "magic.npy", "this is not a numpy file at all");
  write_file(dir / "garbled.npy",
             npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (16, 2") + std::string(512, '\0'));
  write_file(dir / "complex.npy", npy_file("<c8", "(16, 2, 4)", 16 * 2 * 4 * 8));
  write_file(dir / "bigend.npy", npy_file(">f4", "(16, 2, 4)", 16 * 2 * 4 * 4));
  write_file(dir / "int.npy", npy_file("<i4", "(16, 2, 4)", 16 * 2 * 4 * 4));
  write_file(dir / "fortran.npy", npy_file("<f4", "(16, 2, 4)", 16 * 2 * 4 * 4, true));
  write_file(dir / "rank2.npy", npy_file("<f4", "(16, 8)", 16 * 8 * 4));
  write_file(dir / "kshape.npy", npy_file("<f4", "(16, 2, 8)", 16 * 2 * 8 * 4));
  write_file(dir / "headzero.npy", npy_file("<f4", "(16, 0, 4)", 0));
  for (const char* name : {"q12.npy", "k12.npy", "v12.npy"})
    write_file(dir / name, npy_file("<f4", "(12, 2, 4)", 12 * 2 * 4 * 4));
  for (const char* name : {"q0.npy", "k0.npy", "v0.npy"})
    write_file(dir / name, npy_file("<f4", "(0, 2, 4)", 0));
  std::vector<float> bad(p.q);
  bad[(3 * 2 + 1) * 4 + 2] = std::numeric_limits<float>::quiet_NaN();
  npy::save(dir / "nan.npy", bad.data(), {16, 2, 4});
  bad = p.v;
  bad[(15 * 2 + 0) * 4 + 3] = std::numeric_limits<float>::infinity();
  npy::save(dir / "inf.npy", bad.data(), {16, 2, 4});
  const std::vector<std::uint8_t> m15(15, 1);
  npy::save(dir / "mask15.npy", m15.data(), {15});
  const std::vector<float> mf(16, 1.0f);
  npy::save(dir / "maskf.npy", mf.data(), {16});
  const std::vector<std::uint8_t> m2(32, 1);
  npy::save(dir / "mask2d.npy", m2.data(), {16, 2});
  write_file(dir / "oob.txt", "0 1\n1 2\n# a comment\n5 99\n");
  write_file(dir / "words.txt", "0 1\nfoo bar\n");
  write_file(dir / "empty.txt", "");
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0644) == 0);
  write_file(dir / "bad.mtx", "%%MatrixMarket matrix coordinate pattern general\n4 4 2\n1 2\n");
}

}  // namespace

TEST_CASE("attend rejects bad input with one clear line, the right exit code and no output", "[cpu][tools]") {
  TempDir dir;
  write_files(dir);
  const std::vector<Case> cases = {
      // Bad data: exit 1.
      {attend({{"--q", "trunc.npy"}}), 1, {"trunc.npy", "truncated"}},
      {attend({{"--q", "headtrunc.npy"}}), 1, {"headtrunc.npy"}},
      {attend({{"--q", "magic.npy"}}), 1, {"magic.npy"}},
      {attend({{"--k", "garbled.npy"}}), 1, {"garbled.npy"}},
      {attend({{"--q", "complex.npy"}}), 1, {"complex.npy", "c8"}},
      {attend({{"--v", "bigend.npy"}}), 1, {"bigend.npy", "big-endian"}},
      {attend({{"--q", "int.npy"}}), 1, {"int.npy", "<i4"}},
      {attend({{"--q", "fortran.npy"}}), 1, {"fortran.npy", "Fortran"}},
      {attend({{"--q", "rank2.npy"}}), 1, {"rank2.npy", "(16, 8)"}},
      {attend({{"--k", "kshape.npy"}}), 1, {"kshape.npy", "(16, 2, 8)", "(16, 2, 4)"}},
      {attend({{"--v", "headzero.npy"}}), 1, {"headzero.npy"}},
      {attend({{"--q", "q12.npy"}, {"--k", "k12.npy"}, {"--v", "v12.npy"}}), 1, {"16 nodes", "12 tokens"}},
      {attend({{"--graph", ""}, {"--pattern", "window:1"}, {"--n", "20"}}),
       1,
       {"20 nodes", "16 tokens", "q.npy"}},
      {attend({{"--q", "q0.npy"}, {"--k", "k0.npy"}, {"--v", "v0.npy"}}), 1, {"q0.npy", "N = 0"}},
      {attend({{"--q", "nan.npy"}}), 1, {"nan.npy", "[3, 1, 2]", "NaN"}},
      {attend({{"--v", "inf.npy"}}), 1, {"inf.npy", "[15, 0, 3]", "Inf"}},
      {attend({{"--mask", "mask15.npy"}}), 1, {"mask15.npy", "(15,)"}},
      {attend({{"--mask", "maskf.npy"}}), 1, {"maskf.npy", "<f4"}},
      {attend({{"--mask", "mask2d.npy"}}), 1, {"mask2d.npy"}},
      {attend({{"--mask", "nomask.npy"}}), 1, {"nomask.npy"}},
      {attend({{"--graph", "oob.txt"}, {"--n", "16"}}), 1, {"oob.txt", "99"}},
      {attend({{"--graph", "words.txt"}}), 1, {"words.txt"}},
      {attend({{"--graph", "empty.txt"}}), 1, {"empty.txt"}},
      {attend({{"--graph", "missing.txt"}}), 1, {"missing.txt"}},
      {attend({{"--graph", "bad.mtx"}}), 1, {"bad.mtx"}},
      {attend({{"--q", "missing.npy"}}), 1, {"missing.npy"}},
      {attend({{"--out", "nodir/z.npy"}}), 1, {"nodir/z.npy"}},
      {attend({{"--weights-out", "nodir/w.npy"}}), 1, {"nodir/w.npy", "--weights-out"}},
      {attend({{"--edges-out", "nodir/e.npy"}}), 1, {"nodir/e.npy", "--edges-out"}},
      {attend({{"--out", "."}}), 1, {"--out", "directory"}},
      {attend({{"--out", "fifo"}}), 1, {"--out", "fifo", "not a regular file"}},
      {attend({{"--backend", "cuda"}}), 1, {"cuda"}},
      // Bad usage: exit 2.
      {attend({{"--graph", ""}, {"--pattern", "window:1"}, {"--n", "0"}}), 2, {"--n", "0"}},
      {attend({{"--graph", ""}, {"--pattern", "window:1"}, {"--n", "4x"}}), 2, {"--n", "4x"}},
      {attend({{"--graph", ""}, {"--pattern", "window:1"}, {"--n", "-16"}}), 2, {"--n", "-16"}},
      {attend({{"--graph", ""}, {"--pattern", "window:1"}}), 2, {"--n"}},
      {attend({{"--graph", ""}, {"--pattern", "nosuchterm:3"}, {"--n", "16"}}), 2, {"nosuchterm"}},
      {attend({{"--pattern", "window:1"}, {"--n", "16"}}), 2, {"--pattern", "--graph"}},
      {attend({{"--graph", ""}}), 2, {"--pattern", "--graph"}},
      {attend({{"--seed", "-3"}}), 2, {"--seed", "-3"}},
      {attend({{"--hops", "-1"}}), 2, {"--hops", "-1"}},
      {attend({{"--hops", "100000"}}), 2, {"--hops", "100000"}},
      {attend({{"--hops", "two"}}), 2, {"--hops", "two"}},
      {attend({{"--alpha", "1.5"}}), 2, {"--alpha", "1.5"}},
      {attend({{"--alpha", "nan"}}), 2, {"--alpha", "nan"}},
      {attend({{"--heat", "-1"}}), 2, {"--heat", "-1"}},
      {attend({{"--theta", "0.5,abc"}}), 2, {"--theta", "abc"}},
      {attend({{"--theta", "0.5,0.5"}, {"--heat", "1"}}), 2, {"--theta", "--heat"}},
      {attend({{"--theta", "0.5,0.5"}, {"--hops", "3"}}), 2, {"--theta", "--hops"}},
      {attend({{"--heat", "1"}, {"--alpha", "0.2"}}), 2, {"--alpha", "--heat"}},
      {attend({{"--threads", "0"}}), 2, {"--threads", "0"}},
      {attend({{"--threads", "many"}}), 2, {"--threads", "many"}},
      {attend({{"--backend", "tpu"}}), 2, {"--backend", "tpu"}},
      {attend({{"--q", ""}}), 2, {"--q"}},
      {attend({{"--out", ""}}), 2, {"--out"}},
      {attend({{"--weights-out", "z.npy"}}), 2, {"--out", "--weights-out", "z.npy"}},
      {attend({}, {"--bogus", "1"}), 2, {"--bogus"}},
      {attend({}, {"--hops"}), 2, {"--hops"}},
      {attend({}, {"stray"}), 2, {"stray"}},
  };
  for (const Case& c : cases) expect_failure(dir, c);
}

TEST_CASE("graph rejects bad input with one clear line, the right exit code and no output", "[cpu][tools]") {
  TempDir dir;
  write_files(dir);
  const std::vector<Case> cases = {
      {{"graph", "--graph", "oob.txt", "--n", "16"}, 1, {"oob.txt", "99"}},
      {{"graph", "--graph", "words.txt"}, 1, {"words.txt"}},
      {{"graph", "--graph", "missing.txt"}, 1, {"missing.txt"}},
      {{"graph", "--graph", "empty.txt"}, 1, {"empty.txt"}},
      {{"graph", "--graph", "bad.mtx"}, 1, {"bad.mtx"}},
      {{"graph", "--graph", "magic.npy"}, 1, {"magic.npy"}},
      {{"graph", "--pattern", "window:1", "--n", "10", "--out", "nodir/g.txt"}, 1, {"nodir/g.txt"}},
      {{"graph", "--pattern", "window:1", "--n", "10", "--out", "g.xyz"}, 2, {"g.xyz"}},
      {{"graph", "--pattern", "window:1", "--n", "10", "--out", "."}, 2, {"."}},
      {{"graph", "--pattern", "window:1"}, 2, {"--n"}},
      {{"graph", "--pattern", "window:1", "--n", "0"}, 2, {"--n", "0"}},
      {{"graph", "--pattern", "window:1", "--n", "-5"}, 2, {"--n", "-5"}},
      {{"graph", "--pattern", "window:1", "--n", "1e3"}, 2, {"--n", "1e3"}},
      {{"graph", "--pattern", "window:x", "--n", "10"}, 2, {"window:x"}},
      {{"graph", "--pattern", "wndow:1", "--n", "10"}, 2, {"wndow"}},
      {{"graph", "--pattern", "window:1", "--n", "10", "--json=yes"}, 2, {"--json"}},
      {{"graph", "--pattern", "window:1", "--n", "10", "--frobnicate"}, 2, {"--frobnicate"}},
      {{"graph"}, 2, {"--pattern"}},
  };
  for (const Case& c : cases) expect_failure(dir, c);
}

TEST_CASE("demo rejects bad options with one clear line and the right exit code", "[cpu][tools]") {
  TempDir dir;
  const std::vector<Case> cases = {
      {{"demo", "--n", "0"}, 2, {"--n", "0"}},
      {{"demo", "--n", "4x"}, 2, {"--n", "4x"}},
      {{"demo", "--heads", "0"}, 2, {"--heads"}},
      {{"demo", "--dim", "-4"}, 2, {"--dim", "-4"}},
      {{"demo", "--hops", "-1"}, 2, {"--hops", "-1"}},
      {{"demo", "--alpha", "1.5"}, 2, {"--alpha", "1.5"}},
      {{"demo", "--seed", "-1"}, 2, {"--seed", "-1"}},
      {{"demo", "--threads", "-2"}, 2, {"--threads", "-2"}},
      {{"demo", "--n", "64", "--pattern", "nosuch:1"}, 2, {"nosuch"}},
      {{"demo", "--bogus"}, 2, {"--bogus"}},
      {{"demo", "--backend", "tpu"}, 2, {"tpu"}},
      {{"demo", "--n", "64", "--backend", "cuda"}, 1, {"cuda"}},
      // 3 x 2e9 x 768 x 4 bytes of node buffers: refused before the graph is built.
      {{"demo", "--n", "2000000000", "--backend", "cpu"}, 1, {"not enough memory", "N=2000000000"}},
  };
  for (const Case& c : cases) expect_failure(dir, c);
}
