// Malformed graph files: each is an Error whose message names the file and, for text formats,
// the line of the first problem.
#include <catch2/catch.hpp>

#include <diffuser/engine/npy.hpp>
#include <diffuser/graphs/formats.hpp>

#include "graph_test_util.hpp"

using Catch::Contains;
using diffuser::Error;
using diffuser::graphs::read_graph;
using diffuser::graphs::testing::TempDir;

namespace {

// Writes `text` as `name`, reads it (with n when n >= 0) and checks the error names file:line.
void check_rejects(const TempDir& dir, const std::string& name, const std::string& text, int line,
                   const std::string& message, std::int64_t n = -1) {
  const auto path = dir.write(name, text);
  INFO(name << ": " << text);
  const auto read = [&] { return n >= 0 ? read_graph(path, n) : read_graph(path); };
  REQUIRE_THROWS_AS(read(), Error);
  const std::string where = line > 0 ? diffuser::cat(path.string(), ":", line, ": ") : path.string() + ": ";
  REQUIRE_THROWS_WITH(read(), Contains(where) && Contains(message));
}

}  // namespace

TEST_CASE("malformed edge lists name the file and line", "[cpu][graphs]") {
  TempDir dir("bad-edges");
  check_rejects(dir, "extra.txt", "0 1\n1 2 3 4\n", 2,
                "expected 'src dst' or 'src dst weight', found 4 fields");
  check_rejects(dir, "weight.txt", "0 1 0.5\n1 2 heavy\n", 2, "weight 'heavy' is not a number");
  check_rejects(dir, "dict.txt", "0 1 {'weight': 2\n", 1, "an attribute dict '{...}' must end the line");
  check_rejects(dir, "one.txt", "# c\n\n5\n", 3, "found 1 field");
  check_rejects(dir, "word.edges", "0 1\n0 x\n", 2, "'x' is not an integer id");
  check_rejects(dir, "float.el", "0 1.5\n", 1, "'1.5' is not an integer id");
  check_rejects(dir, "negative.txt", "0 1\n\n-1 2\n", 3, "negative id -1");
  check_rejects(dir, "range.txt", "0 1\n2 5\n", 2, "id 5 is outside [0, 5)", 5);
  check_rejects(dir, "declared.txt", "# nodes: 3\n0 1\n0 3\n", 3, "id 3 is outside [0, 3)");
  check_rejects(dir, "huge.txt", "0 99999999999\n", 1, "too large");
  REQUIRE_THROWS_WITH(read_graph(dir / "missing.txt"), Contains("missing.txt: cannot read"));
  std::filesystem::create_symlink("/dev/zero", dir / "zero.txt");
  REQUIRE_THROWS_WITH(read_graph(dir / "zero.txt"), Contains("zero.txt: cannot read: a device"));
}

TEST_CASE("malformed Matrix Market files name the file and line", "[cpu][graphs]") {
  TempDir dir("bad-mtx");
  const std::string banner = "%%MatrixMarket matrix coordinate pattern general\n";
  check_rejects(dir, "empty.mtx", "", 0, "empty file");
  check_rejects(dir, "banner.mtx", "%%MatrixMarket matrix\n1 1 0\n", 1, "expected the banner");
  check_rejects(dir, "notmm.mtx", "1 1 1\n1 1\n", 1, "expected the banner");
  check_rejects(dir, "array.mtx", "%%MatrixMarket matrix array real general\n", 1, "only 'coordinate'");
  check_rejects(dir, "complex.mtx", "%%MatrixMarket matrix coordinate complex general\n", 1,
                "field 'complex'");
  check_rejects(dir, "skew.mtx", "%%MatrixMarket matrix coordinate real skew-symmetric\n", 1, "symmetry");
  check_rejects(dir, "nosize.mtx", banner + "% only comments\n", 2, "file ends before the size line");
  check_rejects(dir, "size.mtx", banner + "3 3\n", 2, "expected the size line");
  check_rejects(dir, "square.mtx", banner + "%\n3 4 1\n1 1\n", 3,
                "3 x 4; a token graph needs a square matrix");
  check_rejects(dir, "short.mtx", banner + "3 3 3\n1 1\n2 2\n", 4, "file ends after 2 of the 3 entries");
  check_rejects(dir, "long.mtx", banner + "3 3 1\n1 1\n2 2\n", 4, "more entries than the 1");
  check_rejects(dir, "range.mtx", banner + "3 3 2\n1 1\n4 1\n", 4,
                "entry (4, 1) is outside the 3 x 3 matrix");
  check_rejects(dir, "zero.mtx", banner + "3 3 1\n0 1\n", 3, "entry (0, 1) is outside");
  check_rejects(dir, "fields.mtx", banner + "3 3 1\n1 1 1.0\n", 3,
                "expected 'i j' for a pattern matrix, found 3");
  check_rejects(dir, "value.mtx", "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 2 abc\n", 3,
                "value 'abc' is not a number");
  check_rejects(dir, "novalue.mtx", "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 2\n", 3,
                "expected 'i j value'");
  check_rejects(dir, "small.mtx", banner + "5 5 1\n1 1\n", 2, "has 5 rows but the graph has 3 nodes", 3);
}

TEST_CASE("malformed .npy edge arrays name the file and the shape", "[cpu][graphs]") {
  TempDir dir("bad-npy");
  const std::int64_t three[] = {0, 1, 2, 1, 2, 0};
  diffuser::npy::save(dir / "e3.npy", three, {2, 3});
  REQUIRE_THROWS_WITH(read_graph(dir / "e3.npy"), Contains("e3.npy") && Contains("shape (2, 3)"));
  diffuser::npy::save(dir / "flat.npy", three, {6});
  REQUIRE_THROWS_WITH(read_graph(dir / "flat.npy"), Contains("flat.npy") && Contains("shape (6,)"));
  const float f[] = {0, 1};
  diffuser::npy::save(dir / "float.npy", f, {1, 2});
  REQUIRE_THROWS_WITH(read_graph(dir / "float.npy"),
                      Contains("float.npy") && Contains("<f4") && Contains("(1, 2)"));
  const std::uint8_t bytes[] = {0, 1};
  diffuser::npy::save(dir / "u1.npy", bytes, {1, 2});
  REQUIRE_THROWS_WITH(read_graph(dir / "u1.npy"), Contains("u1.npy") && Contains("|u1"));
  const std::int32_t neg[] = {0, 1, -3, 0};
  diffuser::npy::save(dir / "neg.npy", neg, {2, 2});
  REQUIRE_THROWS_WITH(read_graph(dir / "neg.npy"), Contains("neg.npy: row 1: src id -3"));
  const std::int32_t big[] = {0, 1, 0, 7};
  diffuser::npy::save(dir / "big.npy", big, {2, 2});
  REQUIRE_THROWS_WITH(read_graph(dir / "big.npy", 5), Contains("big.npy: row 1: dst id 7 is outside [0, 5)"));
  CHECK(read_graph(dir / "big.npy").num_nodes() == 8);
  dir.write("junk.npy", "not numpy");
  REQUIRE_THROWS_WITH(read_graph(dir / "junk.npy"), Contains("junk.npy"));
}

TEST_CASE("malformed DOT and GraphML files name the file and line", "[cpu][graphs]") {
  TempDir dir("bad-dot-graphml");
  check_rejects(dir, "syntax.dot", "digraph { 0 -> ; }\n", 1,
                "expected a node or a subgraph after the edge, found ';'");
  check_rejects(dir, "truncated.gv", "digraph { 0 -> 1\n", 2,
                "expected '}' to close the graph, found the end of the file");
  check_rejects(dir, "names.dot", "digraph {\n a -> b }\n", 2, "node 'a' is not an integer id");
  check_rejects(dir, "negative.dot", "digraph { \"-1\" -> 0 }\n", 1, "node '-1' is not an integer id");
  check_rejects(dir, "range.dot", "digraph { 0 -> 7 }\n", 1, "node 7 is outside [0, 4)", 4);
  check_rejects(dir, "arrow.dot", "graph { 0 -> 1 }\n", 1, "'->' in an undirected graph");
  check_rejects(dir, "two.dot", "digraph { 0 }\ndigraph { 1 }\n", 2, "after the graph (one graph per file)");
  check_rejects(dir, "string.dot", "digraph {\n 0 [label=\"open\n}\n", 2, "unterminated quoted string");
  check_rejects(dir, "html.dot", "digraph {\n\n 0 [label=<<b>x</b>]\n}\n", 3, "unterminated HTML string");
  check_rejects(dir, "comment.dot", "digraph { /* never closed\n 0 }\n", 1, "unterminated /* comment");
  check_rejects(dir, "xml.graphml",
                "<graphml>\n<graph edgedefault=\"directed\">\n<node id=0/>\n</graph></graphml>\n", 3,
                "malformed GraphML");
  check_rejects(dir, "root.graphml", "<?xml version='1.0'?>\n<notgraphml/>\n", 2,
                "the root element is <notgraphml>");
  check_rejects(
      dir, "ids.graphml",
      "<graphml><key id=\"k\" for=\"node\" attr.name=\"node_id\" attr.type=\"string\"/>"
      "<graph edgedefault=\"directed\"><node id=\"a\"><data key=\"k\">x</data></node></graph></graphml>",
      1, "node_id 'x' is not an integer id");
  check_rejects(dir, "attr.graphml",
                "<graphml><graph edgedefault=\"directed\"><node id=\"a\"/><node id=\"0\"/></graph></graphml>",
                1, "node 'a' is not an integer id");
  check_rejects(
      dir, "some.graphml",
      "<graphml><key id=\"k\" for=\"node\" attr.name=\"node_id\" attr.type=\"int\"/>"
      "<graph edgedefault=\"directed\"><node id=\"a\"><data key=\"k\">0</data></node><node id=\"b\"/>"
      "</graph></graphml>",
      0, "1 of 2 nodes have a node_id");
  check_rejects(
      dir, "twice.graphml",
      "<graphml><graph edgedefault=\"directed\">\n<node id=\"0\"/>\n<node id=\"0\"/></graph></graphml>", 3,
      "node id '0' is declared twice");
  check_rejects(dir, "hyper.graphml",
                "<graphml><graph edgedefault=\"directed\"><node id=\"0\"/>\n<hyperedge/></graph></graphml>",
                2, "hyperedges are not supported");
  check_rejects(dir, "bool.graphml",
                "<graphml><graph edgedefault=\"directed\"><node id=\"0\"/>\n<edge source=\"0\" target=\"0\" "
                "directed=\"maybe\"/></graph></graphml>",
                2, "directed='maybe' is not a boolean");
}

TEST_CASE("a GraphML edge to an undeclared node is refused, not a new node", "[cpu][graphs]") {
  TempDir dir("graphml-undeclared");
  check_rejects(dir, "g.graphml",
                "<graphml>\n<graph edgedefault=\"directed\">\n<node id=\"0\"/><node id=\"1\"/>\n"
                "<edge source=\"1\" target=\"0\"/>\n<edge source=\"1\" target=\"7\"/>\n</graph></graphml>\n",
                5, "the edge 1 -> 7 names an undeclared node '7'");
}

TEST_CASE("GraphML refuses DTDs and entity declarations", "[cpu][graphs]") {
  TempDir dir("graphml-dtd");
  check_rejects(
      dir, "lol.graphml",
      "<?xml version=\"1.0\"?>\n<!DOCTYPE graphml [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;\">]>\n"
      "<graphml><graph><node id=\"&b;\"/></graph></graphml>\n",
      2, "DOCTYPE declarations are not accepted");
}
