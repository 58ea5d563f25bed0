// graph_stats and format_stats on graphs whose numbers are known by hand.
#include <catch2/catch.hpp>

#include <sstream>

#include <diffuser/graphs/pattern.hpp>
#include <diffuser/graphs/stats.hpp>

using diffuser::Csr;
using diffuser::EdgeList;
using diffuser::graphs::graph_stats;

TEST_CASE("graph_stats on a hand-made graph", "[cpu][graphs]") {
  // Edges src -> dst: 0->1, 1->0, 2->2, 0->2. Rows: 0:{1} 1:{0} 2:{0,2} 3:{}.
  EdgeList e;
  e.n = 4;
  e.add(0, 1);
  e.add(1, 0);
  e.add(2, 2);
  e.add(0, 2);
  const auto s = graph_stats(Csr::from_edges(e));
  CHECK(s.nodes == 4);
  CHECK(s.edges == 4);
  CHECK(s.in_degree_min == 0);
  CHECK(s.in_degree_mean == Approx(1.0));
  CHECK(s.in_degree_max == 2);
  CHECK(s.out_degree_max == 2);  // token 0 is attended by tokens 1 and 2
  CHECK(s.empty_rows == 1);
  CHECK(s.self_loops == 1);
  CHECK_FALSE(s.symmetric);  // 0 -> 2 without 2 -> 0
  CHECK(s.density == Approx(0.25));
}

TEST_CASE("graph_stats on patterns", "[cpu][graphs]") {
  // window:2 over 10 tokens: degrees 3,4,5,...,5,4,3; symmetric; all self loops.
  const auto w = graph_stats(diffuser::graphs::build_pattern("window:2", 10));
  CHECK(w.edges == 3 + 4 + 5 * 6 + 4 + 3);
  CHECK(w.in_degree_min == 3);
  CHECK(w.in_degree_max == 5);
  CHECK(w.out_degree_max == 5);
  CHECK(w.symmetric);
  CHECK(w.self_loops == 10);
  CHECK(w.empty_rows == 0);
  CHECK(w.density == Approx(44.0 / 100.0));

  // global:1 over 5 tokens: row 0 is full, the others hold only token 0.
  const auto g = graph_stats(diffuser::graphs::build_pattern("global:1", 5));
  CHECK(g.edges == 5 + 4);
  CHECK(g.in_degree_min == 1);
  CHECK(g.in_degree_max == 5);
  CHECK(g.out_degree_max == 5);
  CHECK(g.self_loops == 1);
  CHECK(g.symmetric);

  const auto empty = graph_stats(Csr::from_edges(EdgeList{3, {}, {}}));
  CHECK(empty.edges == 0);
  CHECK(empty.empty_rows == 3);
  CHECK(empty.symmetric);
}

TEST_CASE("format_stats prints aligned key: value lines", "[cpu][graphs]") {
  const auto text = diffuser::graphs::format_stats(graph_stats(diffuser::graphs::build_pattern("window:2", 10)));
  std::istringstream in(text);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  REQUIRE(lines.size() == 10);
  CHECK(lines[0].rfind("nodes:", 0) == 0);
  CHECK(lines[1].find("44") != std::string::npos);
  CHECK(text.find("symmetric:") != std::string::npos);
  CHECK(text.find("yes") != std::string::npos);
  CHECK(text.find("in-degree mean:") != std::string::npos);
  // Every value starts in the same column.
  const auto column = [](const std::string& l) { return l.find_first_not_of(' ', l.find(':') + 1); };
  for (const auto& l : lines) CHECK(column(l) == column(lines[0]));
}
