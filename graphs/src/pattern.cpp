// pattern_edges and build_pattern: evaluate the terms of an expression row by row, in parallel.
#include <algorithm>
#include <cstring>
#include <memory>

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>
#include <tbb/parallel_scan.h>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "row_terms.hpp"

namespace diffuser::graphs {

namespace {

using detail::RowTermPtr;

// Rows per task: rows are cheap, so large grains keep scheduling overhead out of the way.
constexpr std::int64_t kRowGrain = 1024;

std::vector<RowTermPtr> make_terms(std::string_view spec, std::int64_t n, std::uint64_t seed) {
  if (n <= 0 || n > kMaxNodes)
    throw UsageError(cat("pattern '", spec, "': the number of tokens must be in [1, ", kMaxNodes, "], got ", n));
  std::vector<RowTermPtr> terms;
  for (const auto& t : parse_pattern(spec)) terms.push_back(detail::make_row_term(spec, t, n, seed));
  return terms;
}

// offsets[i + 1] = offsets[i] + counts[i], in parallel; returns the total.
std::int64_t exclusive_scan(const std::vector<std::int64_t>& counts, std::int64_t* offsets) {
  const auto n = static_cast<std::int64_t>(counts.size());
  offsets[0] = 0;
  return tbb::parallel_scan(
      tbb::blocked_range<std::int64_t>(0, n, 1 << 14), std::int64_t{0},
      [&](const tbb::blocked_range<std::int64_t>& r, std::int64_t sum, bool final) {
        for (auto i = r.begin(); i < r.end(); ++i) {
          sum += counts[static_cast<std::size_t>(i)];
          if (final) offsets[i + 1] = sum;
        }
        return sum;
      },
      std::plus<std::int64_t>());
}

// A growable int32 buffer that, unlike std::vector::resize, never zero-fills.
struct Scratch {
  std::unique_ptr<std::int32_t[]> data;
  std::int64_t capacity = 0;
  std::int32_t* reserve(std::int64_t size) {
    if (size > capacity) {
      capacity = std::max(size, capacity * 2);
      data.reset(new std::int32_t[static_cast<std::size_t>(capacity)]);
    }
    return data.get();
  }
};

struct RowWorkspace {
  Scratch acc, term, merged;
};

// The union of all terms' rows for row i, sorted and unique; valid until the next call.
std::pair<const std::int32_t*, std::int64_t> union_row(const std::vector<RowTermPtr>& terms, std::int64_t i,
                                                       RowWorkspace& ws) {
  std::int64_t size = 0;
  bool repeats = false;
  for (const auto& term : terms) {
    const std::int64_t k = term->row_size(i);
    repeats = repeats || term->may_repeat();
    if (k == 0) continue;
    if (size == 0) {
      term->fill_row(i, ws.acc.reserve(k));
      size = k;
      continue;
    }
    std::int32_t* t = ws.term.reserve(k);
    term->fill_row(i, t);
    // Rows are sorted, so the union is a linear merge; set_union keeps multiset counts, which
    // the final unique() removes when a term may repeat.
    const std::int32_t* a = ws.acc.data.get();
    std::int32_t* out = ws.merged.reserve(size + k);
    const std::int64_t merged = std::set_union(a, a + size, t, t + k, out) - out;
    std::swap(ws.acc, ws.merged);
    size = merged;
  }
  std::int32_t* a = ws.acc.data.get();
  if (repeats && size > 0) size = std::unique(a, a + size) - a;
  return {a, size};
}

}  // namespace

EdgeList pattern_edges(std::string_view spec, std::int64_t n, std::uint64_t seed) {
  const auto terms = make_terms(spec, n, seed);
  // Row-major layout: row i's entries from all terms are contiguous, so every row can be filled
  // by its own task into a pre-sized array.
  std::vector<std::int64_t> counts(static_cast<std::size_t>(n));
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, kRowGrain), [&](const auto& r) {
    for (auto i = r.begin(); i < r.end(); ++i) {
      std::int64_t c = 0;
      for (const auto& t : terms) c += t->row_size(i);
      counts[static_cast<std::size_t>(i)] = c;
    }
  });
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(n + 1));
  const std::int64_t total = exclusive_scan(counts, offsets.data());
  require_memory(total * 8, cat("pattern '", spec, "' over ", n, " tokens: edge list of ", total, " entries"));

  EdgeList edges;
  edges.n = n;
  edges.src.resize(static_cast<std::size_t>(total));
  edges.dst.resize(static_cast<std::size_t>(total));
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, kRowGrain), [&](const auto& r) {
    for (auto i = r.begin(); i < r.end(); ++i) {
      std::int64_t at = offsets[static_cast<std::size_t>(i)];
      for (const auto& t : terms) {
        const std::int64_t k = t->row_size(i);
        t->fill_row(i, edges.src.data() + at);
        at += k;
      }
      std::fill(edges.dst.data() + offsets[static_cast<std::size_t>(i)], edges.dst.data() + at,
                static_cast<std::int32_t>(i));
    }
  });
  return edges;
}

Csr build_pattern(std::string_view spec, std::int64_t n, std::uint64_t seed) {
  const auto terms = make_terms(spec, n, seed);

  // A lower bound on the result, cheap to get, refuses hopeless jobs before any real work: a row
  // holds at least its largest term (one entry for terms that may repeat).
  const std::int64_t lower = tbb::parallel_reduce(
      tbb::blocked_range<std::int64_t>(0, n, kRowGrain), std::int64_t{0},
      [&](const tbb::blocked_range<std::int64_t>& r, std::int64_t sum) {
        for (auto i = r.begin(); i < r.end(); ++i) {
          std::int64_t most = 0;
          for (const auto& t : terms) most = std::max(most, t->may_repeat() ? std::min<std::int64_t>(t->row_size(i), 1) : t->row_size(i));
          sum += most;
        }
        return sum;
      },
      std::plus<std::int64_t>());
  // The column array is held twice for a moment (Csr::from_arrays copies it into its buffer).
  const auto need = [&](std::int64_t nnz) { return nnz * 8 + (n + 1) * 16; };
  require_memory(need(lower), cat("pattern '", spec, "' over ", n, " tokens: at least ", lower, " edges"));

  // Two passes over the rows (count, then fill) instead of buffering rows: the rows are cheap to
  // regenerate and the column array is then written once, in place.
  tbb::enumerable_thread_specific<RowWorkspace> workspaces;
  std::vector<std::int64_t> counts(static_cast<std::size_t>(n));
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, kRowGrain), [&](const auto& r) {
    auto& ws = workspaces.local();
    for (auto i = r.begin(); i < r.end(); ++i) counts[static_cast<std::size_t>(i)] = union_row(terms, i, ws).second;
  });
  std::vector<std::int64_t> row_ptr(static_cast<std::size_t>(n + 1));
  const std::int64_t nnz = exclusive_scan(counts, row_ptr.data());
  counts = {};
  require_memory(need(nnz), cat("pattern '", spec, "' over ", n, " tokens: ", nnz, " edges"));

  std::vector<std::int32_t> col(static_cast<std::size_t>(nnz));
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, kRowGrain), [&](const auto& r) {
    auto& ws = workspaces.local();
    for (auto i = r.begin(); i < r.end(); ++i) {
      const auto [row, size] = union_row(terms, i, ws);
      if (size > 0)
        std::memcpy(col.data() + row_ptr[static_cast<std::size_t>(i)], row, static_cast<std::size_t>(size) * sizeof(std::int32_t));
    }
  });
  return Csr::from_arrays(n, std::move(row_ptr), std::move(col));
}

}  // namespace diffuser::graphs
