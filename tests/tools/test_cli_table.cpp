// The command line's one definition (tools/diffuser/cli.hpp): the option tables reject bad command
// lines before any work, in the documented words, and give --help and the Markdown reference.
#include <catch2/catch.hpp>

#include <regex>

#include "tools/cli_runner.hpp"

using namespace diffuser::test::cli;
using Catch::Matchers::Contains;

namespace {

const char* const kCommands[] = {"graph", "attend", "demo",  "bench", "layer", "data",   "train",
                                 "predict", "curves", "reach", "spectral", "mass", "viz", "report"};

// One line on stderr, exit 2, nothing written.
void check_usage_error(const std::vector<std::string>& args, const std::string& message) {
  TempDir dir;
  const RunResult r = run_cli(args, dir.path());
  INFO("args: " << args.front() << " ...\nstderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err_lines() == 1);
  CHECK_THAT(r.err, Contains(message));
  CHECK(dir.listing().empty());
}

}  // namespace

TEST_CASE("CLI option tables: unknown options, flags, types and bounds fail before any work",
          "[cpu][tools][cli]") {
  check_usage_error({"graph", "--pattern", "window:1", "--n", "8", "--bogus"},
                    "diffuser graph: error: unknown option --bogus for 'diffuser graph' (see diffuser graph --help)");
  check_usage_error({"reach", "--pattern", "window:1", "--n", "8", "--json=yes"}, "--json is a flag and takes no value");
  check_usage_error({"attend", "--pattern", "window:1", "--n", "8", "--hops"}, "--hops needs a value");
  check_usage_error({"attend", "--hops", "300"}, "--hops must be in [0, 256], got 300");
  check_usage_error({"attend", "--alpha", "1.5"}, "--alpha must be in [0, 1], got 1.5");
  check_usage_error({"demo", "--heads", "0"}, "--heads must be in [1, 4096], got 0");
  check_usage_error({"demo", "--n", "4x"}, "--n: '4x' is not an integer");
  check_usage_error({"mass", "--pattern", "window:1", "--n", "8", "--confidence", "1"},
                    "--confidence must be in (0, 1), got 1");
  check_usage_error({"attend", "--theta", "0.5,"}, "--theta");
  check_usage_error({"train", "--data", "d", "--steps", "3", "--out", "r"}, "missing required option --config");
  check_usage_error({"graph", "--seed", "1", "--seed", "2", "--pattern", "window:1", "--n", "4"},
                    "--seed is given more than once");
  check_usage_error({"graph", "stray"}, "unexpected argument 'stray' for 'diffuser graph'");
  // Repeatable options are accepted more than once (then the command reports what is missing).
  TempDir dir;
  const RunResult r = run_cli({"report", "--pattern", "window:1", "--pattern", "self", "--n", "8"}, dir.path());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("--out"));
}

TEST_CASE("CLI option tables: --help of every command and the Markdown reference come from them",
          "[cpu][tools][cli]") {
  TempDir dir;
  const RunResult md = run_cli({"help", "--markdown"}, dir.path());
  REQUIRE(md.exit_code == 0);
  for (const std::string c : kCommands) {
    const RunResult h = run_cli({c, "--help"}, dir.path());
    REQUIRE(h.exit_code == 0);
    CHECK_THAT(h.out, Contains("usage: diffuser " + c));
    CHECK_THAT(md.out, Contains("## `diffuser " + c + "`"));
    CHECK_THAT(md.out, Contains("```\ndiffuser " + c));
    // Every option line of --help ("  --name ...") is a row of the reference's table.
    const std::regex option_line(R"(\n  (--[a-z0-9-]+))");
    for (std::sregex_iterator m(h.out.begin(), h.out.end(), option_line), end; m != end; ++m)
      CHECK_THAT(md.out, Contains("| `" + (*m)[1].str()));
  }
  CHECK_THAT(run_cli({"train", "--help"}, dir.path()).out, Contains("--quiet"));
  const RunResult check = run_cli({"help", "--check"}, dir.path());
  CHECK(check.exit_code == 0);
  const RunResult top = run_cli({"help"}, dir.path());
  CHECK(top.exit_code == 0);
  for (const std::string c : kCommands) CHECK_THAT(top.out, Contains("  " + c));
  CHECK(run_cli({"help", "--template", "x.md.in"}, dir.path()).exit_code == 2);
}
