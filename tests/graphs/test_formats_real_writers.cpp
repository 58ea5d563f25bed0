// Graph files as other tools write them (networkx, igraph, yEd, Graphviz users), and the limits
// that keep hostile files from crashing the readers.
#include <catch2/catch.hpp>

#include <diffuser/graphs/formats.hpp>

#include "graph_test_util.hpp"

using Catch::Contains;
using diffuser::Csr;
using diffuser::EdgeList;
using diffuser::Error;
using diffuser::graphs::GraphFormat;
using diffuser::graphs::parse_edges;
using diffuser::graphs::read_graph;
using diffuser::graphs::write_graph;
using diffuser::graphs::testing::TempDir;

namespace {

Csr from_pairs(std::int64_t n, std::initializer_list<std::pair<int, int>> pairs) {
  EdgeList e;
  e.n = n;
  for (const auto& [s, d] : pairs) e.add(s, d);
  return Csr::from_edges(e);
}

Csr parse(GraphFormat f, const std::string& text) {
  return Csr::from_edges(parse_edges(f, text, "mem"));
}

std::string repeat(const std::string& s, int k) {
  std::string out;
  for (int i = 0; i < k; ++i) out += s;
  return out;
}

}  // namespace

TEST_CASE("weighted edge lists: weights are checked and ignored, as Matrix Market values", "[cpu][graphs]") {
  // networkx.write_weighted_edgelist
  CHECK(parse(GraphFormat::edge_list, "0 1 0.5\n1 2 2.0\n2 0 -1e3\n") ==
        from_pairs(3, {{0, 1}, {1, 2}, {2, 0}}));
  // networkx.write_edgelist with its default data=True: the attribute dict ends the line
  CHECK(parse(GraphFormat::edge_list, "0 1 {'weight': 0.5}\n1 2 {}\n2 0 3 {'color': 'red'}\n") ==
        from_pairs(3, {{0, 1}, {1, 2}, {2, 0}}));
  // A zero weight is still an edge, as an explicit zero entry of a Matrix Market file is.
  CHECK(parse(GraphFormat::edge_list, "0 1 0\n") == from_pairs(2, {{0, 1}}));
  CHECK(parse(GraphFormat::matrix_market, "%%MatrixMarket matrix coordinate real general\n2 2 1\n2 1 0\n") ==
        from_pairs(2, {{0, 1}}));
  REQUIRE_THROWS_WITH(parse(GraphFormat::edge_list, "0 1 w\n"),
                      Contains("mem:1: weight 'w' is not a number"));
}

TEST_CASE("GraphML as networkx, igraph and yEd write it", "[cpu][graphs]") {
  SECTION("every GraphML boolean spelling, in data and in an edge's directed attribute") {
    const std::string g =
        "<?xml version='1.0' encoding='utf-8'?>\n"
        "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n"
        "<key id=\"d0\" for=\"node\" attr.name=\"flag\" "
        "attr.type=\"boolean\"><default>False</default></key>\n"
        "<key id=\"d1\" for=\"edge\" attr.name=\"seen\" attr.type=\"boolean\"/>\n"
        "<graph edgedefault=\"undirected\">\n"
        "<node id=\"0\"><data key=\"d0\">True</data></node>\n"
        "<node id=\"1\"><data key=\"d0\">true</data></node>\n"
        "<node id=\"2\"><data key=\"d0\">1</data></node>\n"
        "<node id=\"3\"><data key=\"d0\">FALSE</data></node>\n"
        "<edge source=\"0\" target=\"1\"><data key=\"d1\">True</data></edge>\n"
        "<edge source=\"1\" target=\"2\" directed=\"True\"/>\n"
        "<edge source=\"2\" target=\"3\" directed=\"1\"/>\n"
        "<edge source=\"3\" target=\"0\" directed=\"false\"/>\n"
        "</graph></graphml>\n";
    CHECK(parse(GraphFormat::graphml, g) == from_pairs(4, {{0, 1}, {1, 0}, {1, 2}, {2, 3}, {3, 0}, {0, 3}}));
  }
  SECTION("ids are the file's, whatever order nodes and edges come in") {
    const std::string g =
        "<graphml><graph edgedefault=\"directed\">"
        "<edge source=\"7\" target=\"3\"/>"  // edges before their nodes are declared
        "<node id=\"7\"/><node id=\"3\"/><node id=\"0\"/>"
        "<edge source=\"0\" target=\"7\"/>"
        "</graph></graphml>";
    CHECK(parse(GraphFormat::graphml, g) == from_pairs(8, {{7, 3}, {0, 7}}));
  }
  SECTION("nested graphs (a node holding a graph) and yEd's n<id> names") {
    const std::string g =
        "<graphml><key id=\"k\" for=\"node\" attr.name=\"label\" attr.type=\"string\"/>"
        "<graph edgedefault=\"directed\">"
        "<node id=\"n2\"><data key=\"k\">outer</data><graph edgedefault=\"undirected\">"
        "<node id=\"n0\"/><node id=\"n1\"/><edge source=\"n0\" target=\"n1\"/></graph></node>"
        "<edge source=\"n2\" target=\"n0\"/>"
        "</graph></graphml>";
    CHECK(parse(GraphFormat::graphml, g) == from_pairs(3, {{0, 1}, {1, 0}, {2, 0}}));
  }
  SECTION("a node_id data key wins over the id attributes") {
    const std::string g =
        "<graphml><key id=\"id\" for=\"node\" attr.name=\"node_id\" attr.type=\"long\"/>"
        "<graph edgedefault=\"directed\">"
        "<node id=\"b\"><data key=\"id\"> 4 </data></node><node id=\"a\"><data key=\"id\">2</data></node>"
        "<edge source=\"a\" target=\"b\"/></graph></graphml>";
    CHECK(parse(GraphFormat::graphml, g) == from_pairs(5, {{2, 4}}));
  }
}

TEST_CASE("DOT as Graphviz users write it: HTML labels, edge groups, quoting, ports", "[cpu][graphs]") {
  SECTION("HTML labels") {
    const std::string d =
        "digraph G {\n"
        "  0 [label=<<b>bold</b> and <i>x &lt; y</i>>];\n"
        "  1 [label=<<table><tr><td port=\"p\">a</td></tr></table>>, shape=plain];\n"
        "  0 -> 1 [label=<<font color=\"red\">e</font>>];\n"
        "}\n";
    CHECK(parse(GraphFormat::dot, d) == from_pairs(2, {{0, 1}}));
  }
  SECTION("edge groups connect every node of one side to every node of the other") {
    CHECK(parse(GraphFormat::dot, "digraph { {0 1} -> 2 }") == from_pairs(3, {{0, 2}, {1, 2}}));
    CHECK(parse(GraphFormat::dot, "digraph { 0 -> {1 2} -> 3 }") ==
          from_pairs(4, {{0, 1}, {0, 2}, {1, 3}, {2, 3}}));
    CHECK(parse(GraphFormat::dot, "digraph { subgraph s { 0; 1 -> 2 } -> 3 }") ==
          from_pairs(4, {{1, 2}, {0, 3}, {1, 3}, {2, 3}}));
    CHECK(parse(GraphFormat::dot, "graph { {0 1} -- 2 }") == from_pairs(3, {{0, 2}, {2, 0}, {1, 2}, {2, 1}}));
  }
  SECTION("quoted and concatenated ids, ports, strict, preprocessor lines, attributes everywhere") {
    const std::string d =
        "# 1 \"generated.dot\"\n"
        "strict digraph \"my graph\" {\n"
        "  graph [rankdir=LR]; node [shape=box] edge [weight=2]\n"
        "  rankdir = TB\n"
        "  \"1\" + \"0\" -> 2:n;\n"
        "  3:p:sw -> \"4\" [label=\"a \\\"quoted\\\" \\\n label\"]\n"
        "}\n";
    CHECK(parse(GraphFormat::dot, d) == from_pairs(11, {{10, 2}, {3, 4}}));
  }
}

TEST_CASE("nesting beyond the limit is refused with its line, never a stack overflow", "[cpu][graphs]") {
  const int limit = 256;  // detail::kMaxNesting
  SECTION("DOT") {
    const auto nested = [](int depth) {
      return "digraph {\n" + repeat("{", depth) + " 0 " + repeat("}", depth) + "\n}\n";
    };
    CHECK(parse(GraphFormat::dot, nested(limit - 1)).num_nodes() == 1);
    REQUIRE_THROWS_WITH(parse(GraphFormat::dot, nested(limit)),
                        Contains("mem:2: subgraphs nested more than 256 deep"));
    // The depths that crashed the BGL reader (about 17.7K braces, 8.9K subgraphs).
    REQUIRE_THROWS_WITH(parse(GraphFormat::dot, nested(20000)), Contains("nested more than 256 deep"));
    REQUIRE_THROWS_WITH(parse(GraphFormat::dot, "digraph {" + repeat("subgraph s {", 9000)),
                        Contains("nested more than 256 deep"));
  }
  SECTION("GraphML") {
    const auto nested = [](int depth) {
      return "<graphml><graph edgedefault=\"directed\"><node id=\"0\"><data key=\"x\">" +
             repeat("<a>", depth) + repeat("</a>", depth) + "</data></node></graph></graphml>";
    };
    CHECK(parse(GraphFormat::graphml, nested(limit - 5)).num_nodes() == 1);
    REQUIRE_THROWS_WITH(parse(GraphFormat::graphml, nested(limit)),
                        Contains("elements nested more than 256 deep"));
    REQUIRE_THROWS_WITH(parse(GraphFormat::graphml, nested(20000)),
                        Contains("elements nested more than 256 deep"));
  }
}

TEST_CASE("the DOT and GraphML writers round-trip with isolated nodes and self loops", "[cpu][graphs]") {
  TempDir dir("writers");
  const Csr g = from_pairs(7, {{0, 1}, {1, 0}, {2, 2}, {5, 3}, {3, 5}, {4, 3}});  // node 6 isolated
  for (const char* name : {"g.dot", "g.gv", "g.graphml"}) {
    INFO(name);
    write_graph(g, dir / name);
    CHECK(read_graph(dir / name) == g);
  }
}
