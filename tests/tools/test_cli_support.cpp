// The CLI's shared pieces: JSON text with NaN and Inf replaced by null and noted, and the progress
// reporter (plain lines off a terminal, a bar on one, nothing when quiet) - end to end through
// `reach`, whose stdout must not change when progress is shown.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <regex>

#include "../tools/diffuser/json_out.hpp"
#include "../tools/diffuser/progress.hpp"
#include "tools/cli_runner.hpp"

using namespace diffuser;
using Catch::Matchers::Contains;

namespace {

// Progress shown at once (the reporter normally waits before its first line).
test::cli::RunOptions no_progress_delay() {
  test::cli::RunOptions o;
  o.env = {"DIFFUSER_PROGRESS_DELAY=0"};
  return o;
}

std::string read_all(std::FILE* f) {
  std::rewind(f);
  std::string s;
  char buf[4096];
  for (std::size_t got; (got = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, got);
  return s;
}

}  // namespace

TEST_CASE("JSON text never holds NaN or Inf: they become null with a note", "[cpu][tools]") {
  cli::Json j;
  j["ok"] = 1.5;
  j["rows"] = cli::Json::array({cli::Json{{"ms", std::numeric_limits<double>::quiet_NaN()}},
                                cli::Json{{"ms", 2.0}, {"err", -std::numeric_limits<double>::infinity()}}});
  const std::string text = cli::dump_json(j);
  const auto back = nlohmann::json::parse(text);
  CHECK((back["ok"] == 1.5));
  CHECK(back["rows"][0]["ms"].is_null());
  CHECK(back["rows"][1]["err"].is_null());
  CHECK((back["rows"][1]["ms"] == 2.0));
  REQUIRE(back["notes"].size() == 2);
  CHECK((back["notes"][0] == "rows[0].ms: NaN written as null"));
  CHECK((back["notes"][1] == "rows[1].err: -Inf written as null"));
  CHECK(cli::dump_json(cli::Json{{"a", 1}}) == "{\"a\":1}");  // one line, no notes when clean
}

TEST_CASE("progress off a terminal: sparse plain lines with percentage and time left", "[cpu][tools]") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  {
    cli::ProgressStyle style;
    style.mode = cli::ProgressStyle::Mode::lines;
    style.delay_s = 0;
    style.line_every_s = 3600;  // one line per stage only
    style.out = f;
    cli::Progress p("test", style);
    p.stage("hops", 8);
    for (int k = 1; k <= 8; ++k) p.update(k, "hop " + std::to_string(k));
    p.stage("diameter");
    p.update(3, "3 blocks");
    p.note("result: 42");
  }
  const std::string out = read_all(f);
  std::fclose(f);
  INFO(out);
  const std::regex first("diffuser test: hops +0% \\([0-9.]+ s\\)\n");
  CHECK(std::regex_search(out, first));
  CHECK_THAT(out, Contains("diffuser test: diameter (") && Contains("diffuser test: result: 42 ("));
  CHECK(std::count(out.begin(), out.end(), '\n') == 3);
  CHECK(out.find('\r') == std::string::npos);  // no terminal control off a terminal
  CHECK(out.find("\033") == std::string::npos);
}

TEST_CASE("progress lines come at most every few seconds and not before the delay", "[cpu][tools]") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  {
    cli::ProgressStyle style;
    style.mode = cli::ProgressStyle::Mode::lines;
    style.delay_s = 3600;  // a short job: silent
    style.out = f;
    cli::Progress p("test", style);
    p.stage("work", 100);
    for (int k = 0; k < 100; ++k) p.update(k);
  }
  CHECK(read_all(f).empty());
  std::fclose(f);
  f = std::tmpfile();
  {
    cli::ProgressStyle style;
    style.mode = cli::ProgressStyle::Mode::bar;
    style.delay_s = 0;
    style.redraw_every_s = 0;
    style.out = f;
    cli::Progress p("test", style);
    p.stage("work", 4);
    p.update(2, "half");
  }
  const std::string bar = read_all(f);
  std::fclose(f);
  CHECK_THAT(bar,
             Contains("\r") && Contains("[##########..........]") && Contains("50%") && Contains("half"));
  CHECK(bar.size() >= 4);
  CHECK(bar.substr(bar.size() - 4) == "\r\033[K");  // cleared at the end
}

TEST_CASE("reach shows progress on stderr only, and none with --quiet", "[cpu][tools]") {
  test::cli::TempDir dir;
  const std::vector<std::string> args{"reach",      "--pattern", "window:2+random:1", "--n", "3000",
                                      "--max-hops", "4"};
  const auto shown = test::cli::run_cli(args, dir.path(), no_progress_delay());
  auto quiet_args = args;
  quiet_args.push_back("--quiet");
  const auto quiet = test::cli::run_cli(quiet_args, dir.path(), no_progress_delay());
  REQUIRE(shown.exit_code == 0);
  REQUIRE(quiet.exit_code == 0);
  INFO(shown.err);
  CHECK(std::regex_search(shown.err, std::regex("diffuser reach: hops +[0-9]+% \\(")));
  CHECK(shown.err.find('\r') == std::string::npos);
  CHECK(quiet.err.empty());
  // stdout is the same with and without progress, but for the timing line.
  auto strip_time = [](const std::string& s) { return std::regex_replace(s, std::regex("time: .*\n"), ""); };
  CHECK(strip_time(shown.out) == strip_time(quiet.out));
  // Without the delay override a short run stays silent.
  CHECK(test::cli::run_cli(args, dir.path()).err.empty());
}

TEST_CASE("every long-running command reports progress through the same reporter", "[cpu][tools]") {
  test::cli::TempDir dir;
  std::FILE* c = std::fopen((dir / "c.json").c_str(), "w");
  REQUIRE(c);
  std::fputs(R"({"hidden_size": 16, "num_attention_heads": 2, "intermediate_size": 32, "attention_window": 8,
    "num_rand": 2, "num_glob": 1})",
             c);
  std::fclose(c);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"spectral", "--pattern", "window:2+random:1", "--n", "600"}, "diffuser spectral: transition"},
      {{"mass", "--pattern", "window:2+random:1", "--n", "600"}, "diffuser mass: blocks of 64 tokens"},
      {{"bench", "--sizes", "64", "--heads", "2", "--dim", "8", "--reps", "2", "--no-naive"},
       "diffuser bench: forward runs"},
      {{"layer", "--config", "c.json", "--bench", "--n", "64", "--reps", "1"}, "diffuser layer: runs"},
      {{"report", "--pattern", "window:2", "--n", "100", "--max-hops", "2", "--out", "r.html"},
       "diffuser report: analysis"},
  };
  for (const auto& [args, expect] : cases) {
    INFO(args.front());
    const auto shown = test::cli::run_cli(args, dir.path(), no_progress_delay());
    REQUIRE(shown.exit_code == 0);
    CHECK_THAT(shown.err, Contains(expect));
    auto quiet_args = args;
    quiet_args.push_back("--quiet");
    const auto quiet = test::cli::run_cli(quiet_args, dir.path(), no_progress_delay());
    REQUIRE(quiet.exit_code == 0);
    CHECK(quiet.err.empty());
  }
  CHECK(test::cli::run_cli({"reach", "--pattern", "window:1", "--n", "9"}, dir.path(), 60,
                           {"DIFFUSER_PROGRESS=sometimes"})
            .exit_code == 2);
}
