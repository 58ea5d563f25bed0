// `diffuser demo`: the main job prints its stages and a checksum that is the same for any thread
// count and changes with the seed.
#include <catch2/catch.hpp>

#include <regex>

#include "tools/cli_runner.hpp"

using namespace diffuser::test::cli;
using Catch::Matchers::Contains;

namespace {

std::string checksum_line(const RunResult& r) {
  std::smatch m;
  const bool found = std::regex_search(r.out, m, std::regex("checksum: [^\n]*"));
  INFO(r.out);
  REQUIRE(found);
  return m[0];
}

RunResult run_demo(const std::vector<std::string>& args, const TempDir& dir) {
  std::vector<std::string> a{"demo"};
  a.insert(a.end(), args.begin(), args.end());
  RunResult r = run_cli(a, dir.path());
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE_FALSE(r.signaled);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.err.empty());
  return r;
}

}  // namespace

TEST_CASE("demo prints stages, throughput and a thread-independent checksum", "[cpu][tools]") {
  TempDir dir;
  const RunResult one = run_demo({"--n", "512", "--threads", "1", "--backend", "cpu"}, dir);
  const RunResult two = run_demo({"--n", "512", "--threads", "2", "--backend", "cpu"}, dir);
  for (const char* s : {"weights", "hop 1", "hop 5", "forward", "GFLOP/s", "edges/s", "peak RSS",
                        "graph build", "blocks:64+random:64+global-random:64", "N = 512"})
    CHECK_THAT(one.out, Contains(s));
  CHECK(std::regex_search(checksum_line(one), std::regex("sum -?[0-9]\\.[0-9]{9}e[-+][0-9]+")));
  CHECK(checksum_line(one) == checksum_line(two));

  const RunResult other = run_demo({"--n", "512", "--seed", "1", "--backend", "cpu"}, dir);
  CHECK(checksum_line(other) != checksum_line(one));
  const RunResult plain =
      run_demo({"--n", "300", "--pattern", "window:3", "--hops", "0", "--heads", "2", "--dim", "8"}, dir);
  CHECK_THAT(plain.out, Contains("plain sparse attention"));
  CHECK(dir.listing().empty());
}
