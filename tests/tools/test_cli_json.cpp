// Every JSON the CLI writes parses as JSON (nlohmann-json), holds no NaN or Infinity, and the
// benchmark files say what they were measured with (commit, build, compiler, flags, CPU level).
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tools/cli_runner.hpp"

using namespace diffuser::test::cli;
using Json = nlohmann::json;

namespace {

RunResult run_ok(const std::vector<std::string>& args, const TempDir& dir) {
  RunResult r = run_cli(args, dir.path());
  INFO("args: " << args.front() << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE_FALSE(r.signaled);
  REQUIRE(r.exit_code == 0);
  return r;
}

// Parses strictly (NaN, Infinity or trailing text fail) and checks every number is finite.
Json parse_clean(const std::string& text) {
  INFO(text);
  Json j;
  REQUIRE_NOTHROW(j = Json::parse(text));
  std::function<void(const Json&)> walk = [&](const Json& v) {
    if (v.is_number_float()) CHECK(std::isfinite(v.get<double>()));
    if (v.is_structured())
      for (const auto& e : v) walk(e);
  };
  walk(j);
  return j;
}

void check_build(const Json& b) {
  for (const char* key : {"commit", "build_type", "compiler", "cxx_flags", "cpu_isa"}) {
    INFO(key);
    REQUIRE(b.contains(key));
    CHECK(b[key].is_string());
    CHECK_FALSE(b[key].get<std::string>().empty());
  }
  CHECK(b["cpu_threads"].get<int>() >= 1);
  CHECK(b.contains("cuda_device"));
}

}  // namespace

TEST_CASE("every --json the CLI prints is clean JSON", "[cpu][tools]") {
  TempDir dir;
  const std::vector<std::vector<std::string>> commands = {
      {"graph", "--pattern", "window:2+random:1", "--n", "100", "--json"},
      {"graph", "--pattern", "window:2", "--n", "50", "--out", "g.mtx", "--json"},
      {"reach", "--pattern", "window:2+random:1", "--n", "300", "--json", "--quiet"},
      {"reach", "--pattern", "window:2+random:1", "--n", "300", "--sample", "40", "--json", "--quiet"},
      {"spectral", "--pattern", "window:2+random:1", "--n", "300", "--json", "--quiet"},
      {"spectral", "--pattern", "window:3", "--n", "40", "--json", "--quiet", "--no-laplacian"},
      {"mass", "--pattern", "window:2+random:1", "--n", "300", "--json", "--quiet"},
  };
  for (const auto& c : commands) {
    const RunResult r = run_ok(c, dir);
    CHECK(r.out.back() == '\n');
    CHECK(r.out.find('\n') == r.out.size() - 1);  // one line
    const Json j = parse_clean(r.out);
    CHECK(j.is_object());
  }
  // A drifting walk (token i attends to i-1, i-2, i-3 and i+1): lambda_2 is ill-conditioned and
  // written as null, never as a number.
  std::ofstream(dir / "drift.txt") << [] {
    std::string s;
    for (int i = 0; i < 300; ++i)
      for (const int j : {i - 1, i - 2, i - 3, i + 1})
        if (j >= 0 && j < 300) s += std::to_string(j) + " " + std::to_string(i) + "\n";
    return s;
  }();
  const Json s = parse_clean(
      run_ok({"spectral", "--graph", "drift.txt", "--json", "--quiet", "--no-laplacian"}, dir).out);
  CHECK((s["lambda2_reliable"] == false));
  CHECK(s["lambda2_modulus"].is_null());
  CHECK(s["spectral_gap"].is_null());
  CHECK(s["lambda2_computed"]["re"].is_number());
}

TEST_CASE("bench and layer bench JSON files record the build they ran on", "[cpu][tools]") {
  TempDir dir;
  run_ok({"bench", "--sizes", "64,128", "--heads", "2", "--dim", "8", "--reps", "1", "--json", "b.json"},
         dir);
  const Json b = parse_clean(read_file(dir / "b.json"));
  check_build(b["build"]);
  CHECK(b["build"]["cuda_device"].is_null());
  CHECK((b["cpu_isa"] == b["build"]["cpu_isa"]));
  REQUIRE(b["rows"].size() == 2);
  CHECK(b["rows"][0]["naive_ms"].is_number());  // measured at the smallest N only
  CHECK(b["rows"][1]["naive_ms"].is_null());    // not measured: null, not -1
  CHECK(b["rows"][1]["forward_ms"].get<double>() > 0);

  std::ofstream(dir / "c.json") << R"({"hidden_size": 16, "num_attention_heads": 2, "intermediate_size": 32,
    "attention_window": 8, "num_rand": 2, "num_glob": 1})";
  run_ok({"layer", "--config", "c.json", "--bench", "--n", "100", "--reps", "1", "--json", "l.json"}, dir);
  const Json l = parse_clean(read_file(dir / "l.json"));
  check_build(l["build"]);
  CHECK((l["impl"] == "diffuser-cpu"));
  run_ok(
      {"layer", "--config", "c.json", "--bench", "--n", "100", "--reps", "1", "--eval", "--json", "e.json"},
      dir);
  CHECK(parse_clean(read_file(dir / "e.json"))["step_ms"].is_null());  // not measured with --eval
}
