// Summary statistics of a token graph, as `diffuser graph` prints them.
#pragma once

#include <cstdint>
#include <string>

#include <diffuser/engine/csr.hpp>

namespace diffuser::graphs {

struct GraphStats {
  std::int64_t nodes = 0;
  std::int64_t edges = 0;
  std::int64_t in_degree_min = 0;
  double in_degree_mean = 0;
  std::int64_t in_degree_max = 0;
  std::int64_t out_degree_max = 0;
  std::int64_t empty_rows = 0;   // tokens that attend to nothing
  std::int64_t self_loops = 0;
  bool symmetric = false;        // every edge j -> i has its reverse i -> j
  double density = 0;            // edges / n^2
};

GraphStats graph_stats(const Csr& g);
// Multi-line, aligned "key: value" text.
std::string format_stats(const GraphStats& s);

}  // namespace diffuser::graphs
