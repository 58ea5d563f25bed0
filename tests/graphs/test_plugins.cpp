// Pattern plugins end to end: the example plugin against its definition, and each broken plugin
// against the error it must produce.
#include <catch2/catch.hpp>

#include <diffuser/graphs/pattern.hpp>
#include <diffuser/graphs/plugin_loader.hpp>

#include "graph_test_util.hpp"

using Catch::Contains;
using diffuser::Csr;
using diffuser::Error;
using diffuser::graphs::build_pattern;
using diffuser::graphs::plugin_edges;
using diffuser::graphs::testing::Dense;

namespace {

// The example plugin's definition: token i attends to i-W .. i.
Dense causal_window(std::int64_t n, std::int64_t w) {
  Dense d(n);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      if (j <= i && i - j <= w) d.edge(j, i);
  return d;
}

}  // namespace

TEST_CASE("the example plugin builds a causal window", "[cpu][graphs]") {
  const std::string lib = DIFFUSER_EXAMPLE_PLUGIN;
  for (const std::int64_t n : {1, 2, 17, 300, 5000})
    for (const std::int64_t w : {0, 1, 3, 40}) {
      INFO("n = " << n << ", W = " << w);
      CHECK(Csr::from_edges(plugin_edges(lib, std::to_string(w), n, 0)) == causal_window(n, w).to_csr());
    }
  // No ARGS: the plugin's default window of 16.
  CHECK(build_pattern("plugin:" + lib, 100) == causal_window(100, 16).to_csr());

  // As a term of an expression, united with the others.
  Dense expected = causal_window(50, 2);
  for (std::int64_t j = 0; j < 50; ++j) {
    expected.edge(j, 0);
    expected.edge(0, j);
  }
  CHECK(build_pattern("plugin:" + lib + ":2+global:1", 50) == expected.to_csr());

  // Bad ARGS: the plugin's own message, with the library named.
  REQUIRE_THROWS_WITH(build_pattern("plugin:" + lib + ":wide", 10),
                      Contains("plugin " + lib + " failed: causal_window: ARGS must be a non-negative window width, got 'wide'"));
}

TEST_CASE("broken plugins give clear errors", "[cpu][graphs]") {
  SECTION("wrong ABI version") {
    REQUIRE_THROWS_AS(plugin_edges(DIFFUSER_TEST_PLUGIN_BAD_ABI, "", 10, 0), Error);
    REQUIRE_THROWS_WITH(plugin_edges(DIFFUSER_TEST_PLUGIN_BAD_ABI, "", 10, 0),
                        Contains(DIFFUSER_TEST_PLUGIN_BAD_ABI) && Contains("built for ABI v2, this diffuser speaks v1"));
  }
  SECTION("an edge out of range") {
    REQUIRE_THROWS_WITH(plugin_edges(DIFFUSER_TEST_PLUGIN_OUT_OF_RANGE, "", 10, 0),
                        Contains(DIFFUSER_TEST_PLUGIN_OUT_OF_RANGE) && Contains("edge 3 (9 -> 10)") &&
                            Contains("outside [0, 10)"));
    REQUIRE_THROWS_WITH(build_pattern(std::string("self+plugin:") + DIFFUSER_TEST_PLUGIN_OUT_OF_RANGE, 4),
                        Contains("(3 -> 4)"));
  }
  SECTION("a failure the plugin reports, with what it was given") {
    REQUIRE_THROWS_WITH(build_pattern(std::string("plugin:") + DIFFUSER_TEST_PLUGIN_FAILS + ":a,b=c", 12, 77),
                        Contains(std::string("plugin ") + DIFFUSER_TEST_PLUGIN_FAILS + " failed: cannot build: n=12 seed=77 args='a,b=c'"));
  }
  SECTION("a missing symbol") {
    REQUIRE_THROWS_WITH(plugin_edges(DIFFUSER_TEST_PLUGIN_NO_BUILD, "", 10, 0),
                        Contains(DIFFUSER_TEST_PLUGIN_NO_BUILD) && Contains("missing symbol diffuser_plugin_build"));
  }
  SECTION("a library that does not exist") {
    diffuser::graphs::testing::TempDir dir("plugins");
    const std::string missing = (dir / "libnothere.so").string();
    REQUIRE_THROWS_AS(build_pattern("plugin:" + missing + ":3", 10), Error);
    REQUIRE_THROWS_WITH(build_pattern("plugin:" + missing + ":3", 10),
                        Contains("plugin " + missing + ": cannot load:") && Contains("libnothere.so"));
    // Not a shared library at all.
    const std::string junk = dir.write("libjunk.so", "not an ELF file\n").string();
    REQUIRE_THROWS_WITH(plugin_edges(junk, "", 10, 0), Contains("plugin " + junk + ": cannot load:"));
  }
}
