// Splits CSR rows into chunks of similar work (edges + a per-row overhead) so that TBB threads
// stay balanced when a few hub rows (global tokens, in-degree N) hold a large share of the edges.
#pragma once

#include <cstdint>
#include <vector>

#include <diffuser/engine/csr.hpp>

namespace diffuser::cpu {

// Row boundaries b[0] = 0 < b[1] < ... < b[k] = n. Each chunk has about `target` units of work,
// where a row costs (degree + row_cost); a single row heavier than target is its own chunk.
std::vector<std::int64_t> balanced_row_chunks(const CsrView& g, std::int64_t row_cost,
                                              std::int64_t target);

// The same with a target chosen for the current thread count (a few chunks per thread).
std::vector<std::int64_t> balanced_row_chunks(const CsrView& g, std::int64_t row_cost = 4);

// Runs body(row_begin, row_end) over balanced chunks in parallel.
template <class Body>
void for_each_row_chunk(const CsrView& g, std::int64_t row_cost, Body&& body);

}  // namespace diffuser::cpu

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

namespace diffuser::cpu {

template <class Body>
void for_each_row_chunk(const CsrView& g, std::int64_t row_cost, Body&& body) {
  const auto chunks = balanced_row_chunks(g, row_cost);
  const auto k = static_cast<std::int64_t>(chunks.size()) - 1;
  tbb::parallel_for(
      tbb::blocked_range<std::int64_t>(0, k, 1),
      [&](const tbb::blocked_range<std::int64_t>& r) {
        for (auto c = r.begin(); c < r.end(); ++c) body(chunks[c], chunks[c + 1]);
      },
      tbb::simple_partitioner());
}

}  // namespace diffuser::cpu
