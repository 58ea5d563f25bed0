// Graph files: every format round-trips a graph exactly, and files written by other tools
// (hand-written DOT, GraphML without node ids, symmetric Matrix Market, ...) read as expected.
#include <catch2/catch.hpp>

#include <diffuser/engine/npy.hpp>
#include <diffuser/graphs/formats.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "graph_test_util.hpp"

using Catch::Contains;
using diffuser::Csr;
using diffuser::EdgeList;
using diffuser::graphs::GraphFormat;
using diffuser::graphs::read_edges;
using diffuser::graphs::read_graph;
using diffuser::graphs::write_graph;
using diffuser::graphs::testing::TempDir;

namespace {

Csr from_pairs(std::int64_t n, const std::vector<std::pair<std::int32_t, std::int32_t>>& pairs) {
  EdgeList e;
  e.n = n;
  for (const auto& [s, d] : pairs) e.add(s, d);
  return Csr::from_edges(e);
}

}  // namespace

TEST_CASE("formats follow the extension", "[cpu][graphs]") {
  using diffuser::graphs::format_from_path;
  CHECK(format_from_path("a.txt") == GraphFormat::edge_list);
  CHECK(format_from_path("a.edges") == GraphFormat::edge_list);
  CHECK(format_from_path("dir.x/a.EL") == GraphFormat::edge_list);
  CHECK(format_from_path("a.mtx") == GraphFormat::matrix_market);
  CHECK(format_from_path("a.npy") == GraphFormat::npy);
  CHECK(format_from_path("a.dot") == GraphFormat::dot);
  CHECK(format_from_path("a.gv") == GraphFormat::dot);
  CHECK(format_from_path("a.graphml") == GraphFormat::graphml);
  CHECK(std::string(diffuser::graphs::format_name(GraphFormat::graphml)) == "GraphML");
  REQUIRE_THROWS_AS(format_from_path("graph.json"), diffuser::UsageError);
  REQUIRE_THROWS_WITH(format_from_path("out/graph.json"), Contains("out/graph.json") && Contains("'.json'"));
  REQUIRE_THROWS_WITH(format_from_path("graph"), Contains("unknown graph format"));
  TempDir dir("ext");
  REQUIRE_THROWS_AS(write_graph(from_pairs(2, {{0, 1}}), dir / "g.xyz"), diffuser::UsageError);
  CHECK_FALSE(std::filesystem::exists(dir / "g.xyz"));
}

TEST_CASE("every format round-trips a graph", "[cpu][graphs]") {
  TempDir dir("roundtrip");
  std::vector<std::pair<std::string, Csr>> graphs;
  graphs.emplace_back("pattern", diffuser::graphs::build_pattern("window:2+random:3+global:1", 60, 4));
  // Isolated nodes at the end must survive (the node count is part of the graph).
  graphs.emplace_back("isolated", from_pairs(9, {{0, 1}, {1, 0}, {3, 3}, {2, 5}}));
  graphs.emplace_back("empty", from_pairs(4, {}));
  graphs.emplace_back("single", from_pairs(1, {{0, 0}}));
  for (const char* ext : {".txt", ".edges", ".el", ".mtx", ".npy", ".dot", ".gv", ".graphml"})
    for (const auto& [name, g] : graphs) {
      INFO(name << ext);
      const auto path = dir / (name + ext);
      write_graph(g, path);
      REQUIRE(std::filesystem::exists(path));
      // .npy stores only the edges, so the node count comes from the caller.
      const bool has_n = std::string(ext) != ".npy";
      if (has_n) CHECK(read_graph(path) == g);
      CHECK(read_graph(path, g.num_nodes()) == g);
      const EdgeList e = read_edges(path, g.num_nodes());
      CHECK(e.n == g.num_nodes());
      CHECK(e.size() == g.num_edges());
    }
  // No temporary files left behind.
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
}

TEST_CASE("edges are written src -> dst: j -> i means i attends to j", "[cpu][graphs]") {
  TempDir dir("direction");
  const Csr g = from_pairs(3, {{2, 0}});  // token 0 attends to token 2
  write_graph(g, dir / "g.txt");
  write_graph(g, dir / "g.mtx");
  write_graph(g, dir / "g.dot");
  const auto text = [&](const char* name) {
    std::ifstream in(dir / name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  CHECK_THAT(text("g.txt"), Contains("\n2 0\n"));
  CHECK_THAT(text("g.mtx"), Contains("\n1 3\n"));  // A[0, 2], 1-based
  CHECK_THAT(text("g.mtx"), Contains("%%MatrixMarket matrix coordinate pattern general"));
  CHECK_THAT(text("g.dot"), Contains("2->0"));
  write_graph(g, dir / "g.npy");
  const auto header = diffuser::npy::read_header(dir / "g.npy");
  CHECK(header.shape == std::vector<std::int64_t>{1, 2});
  CHECK(diffuser::npy::load_i64(dir / "g.npy") == std::vector<std::int64_t>{2, 0});
}

TEST_CASE("files from other tools", "[cpu][graphs]") {
  TempDir dir("foreign");
  SECTION("edge list with comments, blank lines, tabs and CRLF") {
    const auto p = dir.write("g.el", "# SNAP-style header\n\n0\t1\r\n  2 0   # trailing comment\n1 2\n");
    CHECK(read_graph(p) == from_pairs(3, {{0, 1}, {2, 0}, {1, 2}}));
    CHECK(read_graph(p, 5) == from_pairs(5, {{0, 1}, {2, 0}, {1, 2}}));
  }
  SECTION("Matrix Market, symmetric with real values and comments") {
    const auto p = dir.write(
        "g.mtx",
        "%%MatrixMarket matrix coordinate real symmetric\n% comment\n%\n4 4 3\n1 1 0.5\n3 1 -2e3\n4 2 1\n");
    // (3, 1) is A[2, 0]: edge 0 -> 2, and its mirror 2 -> 0.
    CHECK(read_graph(p) == from_pairs(4, {{0, 0}, {0, 2}, {2, 0}, {1, 3}, {3, 1}}));
  }
  SECTION("Matrix Market, integer general, upper-case banner") {
    const auto p =
        dir.write("g.mtx", "%%MatrixMarket MATRIX Coordinate INTEGER General\n3 3 2\n1 2 7\n3 3 1\n");
    CHECK(read_graph(p) == from_pairs(3, {{1, 0}, {2, 2}}));
  }
  SECTION("DOT by hand: chains, attributes, isolated nodes") {
    const auto p =
        dir.write("g.gv",
                  "/* hand written */ digraph G {\n  node [shape=box];\n  4;\n  0 -> 1 -> 2 [color=red];\n"
                  "  // a comment\n  3 -> 0;\n}\n");
    CHECK(read_graph(p) == from_pairs(5, {{0, 1}, {1, 2}, {3, 0}}));
  }
  SECTION("undirected DOT gives both directions") {
    const auto p = dir.write("g.dot", "graph { 0 -- 1; 2 -- 2; }\n");
    CHECK(read_graph(p) == from_pairs(3, {{0, 1}, {1, 0}, {2, 2}}));
  }
  SECTION("GraphML without node_id (as networkx writes it): ids from the id attributes") {
    const auto p = dir.write("g.graphml",
                             "<?xml version='1.0' encoding='utf-8'?>\n"
                             "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n"
                             "<key id=\"d0\" for=\"edge\" attr.name=\"weight\" attr.type=\"double\"/>\n"
                             "<graph edgedefault=\"directed\">\n"
                             "<node id=\"0\"/><node id=\"2\"/><node id=\"1\"/><node id=\"5\"/>\n"
                             "<edge source=\"0\" target=\"2\"><data key=\"d0\">0.5</data></edge>\n"
                             "<edge source=\"2\" target=\"1\"/>\n"
                             "<edge source=\"5\" target=\"5\"/>\n"
                             "<edge source=\"1\" target=\"0\"/>\n"
                             "</graph></graphml>\n");
    CHECK(read_graph(p) == from_pairs(6, {{0, 2}, {2, 1}, {5, 5}, {1, 0}}));
  }
  SECTION("GraphML with BGL/yEd style ids n0, n1, ...") {
    const auto p = dir.write("g.graphml",
                             "<graphml><graph edgedefault=\"directed\"><node id=\"n1\"/><node id=\"n0\"/>"
                             "<edge source=\"n1\" target=\"n0\"/></graph></graphml>");
    CHECK(read_graph(p) == from_pairs(2, {{1, 0}}));
  }
  SECTION("GraphML with a string node_id key maps ids, undirected gives both directions") {
    const auto p = dir.write("g.graphml",
                             "<?xml version='1.0'?>\n<graphml>\n"
                             "<key id=\"k\" for=\"node\" attr.name=\"node_id\" attr.type=\"string\"/>\n"
                             "<graph edgedefault=\"undirected\">\n"
                             "<node id=\"a\"><data key=\"k\">5</data></node>\n"
                             "<node id=\"b\"><data key=\"k\">1</data></node>\n"
                             "<edge source=\"a\" target=\"b\"/>\n"
                             "</graph></graphml>\n");
    CHECK(read_graph(p) == from_pairs(6, {{5, 1}, {1, 5}}));
  }
}
