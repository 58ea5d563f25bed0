// graph_stats: one parallel pass over the rows (degrees, self loops, symmetry by binary search
// into the reverse row) plus a histogram of sources for out-degrees.
#include <algorithm>
#include <atomic>
#include <iomanip>
#include <limits>
#include <sstream>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <diffuser/engine/error.hpp>
#include <diffuser/graphs/stats.hpp>

namespace diffuser::graphs {

namespace {

struct RowSummary {
  std::int64_t min_degree = std::numeric_limits<std::int64_t>::max();
  std::int64_t max_degree = 0;
  std::int64_t empty = 0;
  std::int64_t self_loops = 0;
  std::int64_t unmatched = 0;  // edges without their reverse

  void join(const RowSummary& o) {
    min_degree = std::min(min_degree, o.min_degree);
    max_degree = std::max(max_degree, o.max_degree);
    empty += o.empty;
    self_loops += o.self_loops;
    unmatched += o.unmatched;
  }
};

}  // namespace

GraphStats graph_stats(const Csr& g) {
  DIFFUSER_CHECK(g.device() == Device::cpu, "graph_stats needs the graph on the CPU");
  GraphStats s;
  const std::int64_t n = g.num_nodes();
  s.nodes = n;
  s.edges = g.num_edges();
  if (n == 0) return s;

  const RowSummary rows = tbb::parallel_reduce(
      tbb::blocked_range<std::int64_t>(0, n, 1024), RowSummary{},
      [&](const tbb::blocked_range<std::int64_t>& r, RowSummary acc) {
        for (auto i = r.begin(); i < r.end(); ++i) {
          const std::int64_t d = g.degree(i);
          acc.min_degree = std::min(acc.min_degree, d);
          acc.max_degree = std::max(acc.max_degree, d);
          acc.empty += d == 0;
          for (const auto j : g.neighbors(i)) {
            acc.self_loops += j == i;
            // Edge j -> i has its reverse when row j lists i.
            acc.unmatched += !g.has_edge(static_cast<std::int32_t>(i), j);
          }
        }
        return acc;
      },
      [](RowSummary a, const RowSummary& b) {
        a.join(b);
        return a;
      });

  // Out-degree of j = how many rows list j.
  std::vector<std::int64_t> out_degree(static_cast<std::size_t>(n), 0);
  const auto* col = g.col().data();
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, g.num_edges(), 1 << 16), [&](const auto& r) {
    for (auto k = r.begin(); k < r.end(); ++k)
      std::atomic_ref<std::int64_t>(out_degree[static_cast<std::size_t>(col[k])]).fetch_add(1, std::memory_order_relaxed);
  });

  s.in_degree_min = rows.min_degree;
  s.in_degree_max = rows.max_degree;
  s.in_degree_mean = static_cast<double>(s.edges) / static_cast<double>(n);
  s.out_degree_max = *std::max_element(out_degree.begin(), out_degree.end());
  s.empty_rows = rows.empty;
  s.self_loops = rows.self_loops;
  s.symmetric = rows.unmatched == 0;
  s.density = static_cast<double>(s.edges) / (static_cast<double>(n) * static_cast<double>(n));
  return s;
}

std::string format_stats(const GraphStats& s) {
  const std::pair<const char*, std::string> lines[] = {
      {"nodes", std::to_string(s.nodes)},
      {"edges", std::to_string(s.edges)},
      {"in-degree min", std::to_string(s.in_degree_min)},
      {"in-degree mean", cat(std::fixed, std::setprecision(2), s.in_degree_mean)},
      {"in-degree max", std::to_string(s.in_degree_max)},
      {"out-degree max", std::to_string(s.out_degree_max)},
      {"empty rows", std::to_string(s.empty_rows)},
      {"self loops", std::to_string(s.self_loops)},
      {"symmetric", s.symmetric ? "yes" : "no"},
      {"density", cat(std::setprecision(4), s.density)},
  };
  std::size_t width = 0;
  for (const auto& [key, value] : lines) width = std::max(width, std::char_traits<char>::length(key));
  std::ostringstream os;
  for (const auto& [key, value] : lines) os << key << ':' << std::string(width + 2 - std::char_traits<char>::length(key), ' ') << value << '\n';
  return os.str();
}

}  // namespace diffuser::graphs
