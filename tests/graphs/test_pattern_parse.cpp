// Pattern expressions: parsing, error messages, seeds, thread-count independence, file terms.
#include <catch2/catch.hpp>

#include <diffuser/engine/sys.hpp>
#include <diffuser/graphs/formats.hpp>
#include <diffuser/graphs/pattern.hpp>
#include "support/context.hpp"

#include "graph_test_util.hpp"

using Catch::Contains;
using diffuser::Csr;
using diffuser::UsageError;
using diffuser::graphs::build_pattern;
using diffuser::graphs::parse_pattern;
using diffuser::graphs::pattern_edges;

TEST_CASE("parse_pattern splits terms, parameters, paths and plugin arguments", "[cpu][graphs]") {
  const auto t =
      parse_pattern(" window:3 + global-at:5,1 +file:/tmp/a:b.txt+plugin:./lib.so:x:y+plugin:/p.so ");
  REQUIRE(t.size() == 5);
  CHECK(t[0].name == "window");
  CHECK(t[0].text == "window:3");
  CHECK(t[0].params == std::vector<std::int64_t>{3});
  CHECK(t[1].params == std::vector<std::int64_t>{5, 1});
  CHECK(t[2].path == "/tmp/a:b.txt");
  CHECK(t[3].path == "./lib.so");
  CHECK(t[3].args == "x:y");
  CHECK(t[4].path == "/p.so");
  CHECK(t[4].args.empty());
  for (std::size_t k = 0; k < t.size(); ++k) CHECK(t[k].index == k);

  const auto d = parse_pattern("self+diffuser");
  REQUIRE(d.size() == 4);
  CHECK(d[1].text == "blocks:64");
  CHECK(d[2].text == "random:64");
  CHECK(d[3].text == "global-random:64");
  CHECK(d[3].index == 3);

  // Streams differ by position and by name.
  CHECK(diffuser::graphs::term_stream(0, "random") != diffuser::graphs::term_stream(1, "random"));
  CHECK(diffuser::graphs::term_stream(0, "random") != diffuser::graphs::term_stream(0, "global-random"));
}

TEST_CASE("bad pattern expressions are usage errors naming the term and the expression", "[cpu][graphs]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"foo:3", "unknown term 'foo'"},
      {"window", "takes 1 parameter, got 0"},
      {"window:", "R is missing"},
      {"window:1:2", "takes 1 parameter, got 2"},
      {"window:-1", "R must be non-negative, got -1"},
      {"window:x", "R must be a non-negative integer, got 'x'"},
      {"window:3x", "got '3x'"},
      {"window:3.5", "got '3.5'"},
      {"window: 3", "got ' 3'"},
      {"window:99999999999999999999", "too large"},
      {"window:3++self", "empty term"},
      {"+self", "empty term"},
      {"self+", "empty term"},
      {"self:1", "takes 0 parameters, got 1"},
      {"full:2", "takes 0 parameters"},
      {"blocks:3", "W must be even"},
      {"blocks:0", "W must be even and at least 2"},
      {"dilated:2", "takes 2 parameters, got 1"},
      {"dilated:2:0", "G (the dilation) must be at least 1"},
      {"bigbird:0:1:1", "B (the block size) must be at least 1"},
      {"bigbird:4:1", "takes 3 parameters"},
      {"global-at:", "needs at least one position"},
      {"global-at:1,,2", "position is missing"},
      {"global-at:1,a", "got 'a'"},
      {"diffuser:64", "takes 3 parameters, got 1"},
      {"diffuser:7:1:1", "W must be even"},
      {"file:", "needs a path"},
      {"plugin:", "needs a path"},
      {"plugin::args", "needs a library path"},
  };
  for (const auto& [spec, message] : cases) {
    INFO("pattern " << spec);
    const std::string full = "self+" + spec;
    REQUIRE_THROWS_AS(parse_pattern(full), UsageError);
    REQUIRE_THROWS_WITH(parse_pattern(full), Contains(message) && Contains("pattern '" + full + "'"));
    REQUIRE_THROWS_AS(build_pattern(full, 10), UsageError);
  }
  REQUIRE_THROWS_WITH(parse_pattern("self+window:3x"), Contains("term 'window:3x'"));
  REQUIRE_THROWS_WITH(parse_pattern(""), Contains("empty pattern"));
  REQUIRE_THROWS_WITH(parse_pattern("   "), Contains("empty pattern"));

  // Checks that need n.
  REQUIRE_THROWS_AS(build_pattern("global-at:3,10", 10), UsageError);
  REQUIRE_THROWS_WITH(build_pattern("global-at:3,10", 10), Contains("position 10 is outside [0, 10)"));
  REQUIRE_THROWS_AS(build_pattern("self", 0), UsageError);
  REQUIRE_THROWS_WITH(build_pattern("self", 0), Contains("number of tokens must be in [1,"));
  REQUIRE_THROWS_AS(pattern_edges("self", -5), UsageError);
  REQUIRE_THROWS_AS(build_pattern("self", std::int64_t{1} << 32), UsageError);
}

TEST_CASE("patterns too large for memory are refused before any work", "[cpu][graphs]") {
  if (diffuser::available_memory_bytes() <= 0) return;  // nothing to compare against
  REQUIRE_THROWS_WITH(build_pattern("self+random:2000000000", 1 << 20),
                      Contains("far more than memory can hold"));
  REQUIRE_THROWS_WITH(pattern_edges("random:2000000000+random:2000000000", 1 << 20),
                      Contains("not enough memory"));
  REQUIRE_THROWS_WITH(build_pattern("window:2000000", 1 << 22), Contains("not enough memory"));
}

TEST_CASE("pattern_help has one line per term", "[cpu][graphs]") {
  const auto lines = diffuser::graphs::pattern_help();
  for (const char* usage :
       {"window:R", "blocks:W", "dilated:R:G", "global:G", "global-random:G", "global-at:", "random:R",
        "bigbird:B:R:G", "self", "full", "diffuser", "file:PATH", "plugin:LIB.so"}) {
    INFO(usage);
    const auto hits = std::count_if(lines.begin(), lines.end(),
                                    [&](const std::string& l) { return l.rfind(usage, 0) == 0; });
    CHECK(hits >= 1);
  }
  for (const auto& l : lines) CHECK(l.find('\n') == std::string::npos);
}

TEST_CASE("seeds make random terms reproducible and distinct", "[cpu][graphs]") {
  for (const char* spec : {"random:3", "global-random:3", "bigbird:4:2:0", "diffuser", "window:1+random:2"}) {
    INFO(spec);
    CHECK(build_pattern(spec, 300, 42) == build_pattern(spec, 300, 42));
    CHECK(Csr::from_edges(pattern_edges(spec, 300, 42)) == build_pattern(spec, 300, 42));
    CHECK_FALSE(build_pattern(spec, 300, 42) == build_pattern(spec, 300, 43));
  }
  for (const char* spec : {"window:3", "blocks:8", "dilated:2:3", "global:2", "self"}) {
    INFO(spec);
    CHECK(build_pattern(spec, 100, 1) == build_pattern(spec, 100, 2));
  }
}

TEST_CASE("patterns do not depend on the thread count", "[cpu][graphs]") {
  for (const char* spec : {diffuser::graphs::kDiffuserRecipe, "bigbird:16:3:1+dilated:3:5+window:4"}) {
    INFO(spec);
    Csr one, two;
    diffuser::EdgeList e1, e2;
    diffuser::test::with_threads(1, [&] {
      one = build_pattern(spec, 5000, 3);
      e1 = pattern_edges(spec, 5000, 3);
    });
    diffuser::test::with_threads(2, [&] {
      two = build_pattern(spec, 5000, 3);
      e2 = pattern_edges(spec, 5000, 3);
    });
    CHECK(one == two);
    CHECK(e1.src == e2.src);
    CHECK(e1.dst == e2.dst);
  }
}

TEST_CASE("file: terms read a graph file", "[cpu][graphs]") {
  diffuser::graphs::testing::TempDir dir("pattern-file");
  const auto path = dir.write("g.txt", "# a small graph\n0 1\n1 2\n3 0\n");
  diffuser::EdgeList e;
  e.n = 6;
  for (std::int32_t i = 0; i < 6; ++i) e.add(i, i);
  e.add(0, 1);
  e.add(1, 2);
  e.add(3, 0);
  CHECK(build_pattern("file:" + path.string() + "+self", 6) == Csr::from_edges(e));
  // Ids must fit the requested number of tokens; the error names the file and line.
  REQUIRE_THROWS_WITH(build_pattern("file:" + path.string(), 3),
                      Contains(path.string() + ":4:") && Contains("id 3"));
  REQUIRE_THROWS_WITH(build_pattern("file:" + (dir / "missing.txt").string(), 3), Contains("missing.txt"));
}

TEST_CASE("the diffuser recipe builds at n = 65,536", "[cpu][graphs]") {
  const Csr g = build_pattern(diffuser::graphs::kDiffuserRecipe, 65536, 0);
  REQUIRE_NOTHROW(g.validate());
  // 64 global tokens attend to everything; every other row holds its blocks' 64-96 tokens, the
  // 64 global tokens and up to 64 random ones.
  std::int64_t full_rows = 0;
  for (std::int64_t i = 0; i < g.num_nodes(); ++i) {
    if (g.degree(i) == g.num_nodes()) {
      ++full_rows;
      continue;
    }
    CHECK(g.degree(i) >= 64);
    CHECK(g.degree(i) <= 96 + 64 + 64);
  }
  CHECK(full_rows == 64);
}
