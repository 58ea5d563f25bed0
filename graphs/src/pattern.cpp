// pattern_edges and build_pattern: evaluate the terms of an expression row by row, in parallel.
#include <algorithm>

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>
#include <tbb/parallel_scan.h>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "huge_pages.hpp"
#include "row_terms.hpp"
#include "row_union.hpp"

namespace diffuser::graphs {

namespace {

using detail::RowTermPtr;

// Rows per task: rows are cheap, so large grains keep scheduling overhead out of the way.
constexpr std::int64_t kRowGrain = 1024;

std::vector<RowTermPtr> make_terms(std::string_view spec, std::int64_t n, std::uint64_t seed) {
  if (n <= 0 || n > kMaxNodes)
    throw UsageError(cat("pattern '", excerpt(spec, 64), "': the number of tokens must be in [1, ", kMaxNodes,
                         "], got ", n));
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

// Refuses at once, before any row is visited, a job whose fixed part cannot fit: per token
// `row_bytes` of offsets and counts plus the edges every row holds at least (a lower bound from
// the terms' closed forms), `edge_copies` times 4 bytes each.
void require_fixed_memory(std::string_view spec, std::int64_t n, const std::vector<RowTermPtr>& terms,
                          double row_bytes, double edge_copies) {
  std::int64_t per_row = 0;
  for (const auto& t : terms) per_row = std::max(per_row, t->min_row_size());
  const double nd = static_cast<double>(n);
  require_memory(row_bytes * (nd + 1) + edge_copies * 4.0 * nd * static_cast<double>(per_row),
                 cat("pattern '", excerpt(spec, 64), "' over ", n, " tokens (at least ", per_row,
                     " edges per token, and the row offsets)"));
}

}  // namespace

EdgeList pattern_edges(std::string_view spec, std::int64_t n, std::uint64_t seed) {
  const auto terms = make_terms(spec, n, seed);
  require_fixed_memory(spec, n, terms, 16.0, 2.0);  // counts and offsets; src and dst
  // Sized in floating point before anything is allocated: absurd expressions must fail cleanly.
  const double approx_total = tbb::parallel_reduce(
      tbb::blocked_range<std::int64_t>(0, n, kRowGrain), 0.0,
      [&](const tbb::blocked_range<std::int64_t>& r, double sum) {
        for (auto i = r.begin(); i < r.end(); ++i)
          for (const auto& t : terms) sum += static_cast<double>(t->row_size(i));
        return sum;
      },
      std::plus<double>());
  require_memory(static_cast<std::int64_t>(std::min(approx_total * 8 + static_cast<double>(n) * 16, 9e18)),
                 cat("pattern '", excerpt(spec, 64), "' over ", n, " tokens: edge list of about ",
                     approx_total, " entries"));
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

  EdgeList edges;
  edges.n = n;
  detail::resize_huge(edges.src, static_cast<std::size_t>(total));
  detail::resize_huge(edges.dst, static_cast<std::size_t>(total));
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, kRowGrain), [&](const auto& r) {
    for (auto i = r.begin(); i < r.end(); ++i) {
      std::int64_t at = offsets[static_cast<std::size_t>(i)];
      for (const auto& t : terms) {
        const std::int64_t k = t->row_size(i);
        t->fill_row_unordered(i, edges.src.data() + at);
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
  require_fixed_memory(spec, n, terms, 16.0, 2.0);  // counts and offsets; the column array held twice

  // Bounds on the result, cheap to get, refuse hopeless jobs before any real work. Lower: a row
  // holds at least its largest term (one entry for terms that may repeat). Upper: all terms'
  // entries before duplicates go, which is also the work the two passes below do.
  using Bounds = std::pair<std::int64_t, double>;  // double: absurd specs must not overflow
  const auto [lower, upper] = tbb::parallel_reduce(
      tbb::blocked_range<std::int64_t>(0, n, kRowGrain), Bounds{0, 0},
      [&](const tbb::blocked_range<std::int64_t>& r, Bounds sum) {
        for (auto i = r.begin(); i < r.end(); ++i) {
          std::int64_t most = 0;
          for (const auto& t : terms) {
            const std::int64_t k = t->row_size(i);
            most = std::max(most, t->may_repeat() ? std::min<std::int64_t>(k, 1) : k);
            sum.second += static_cast<double>(k);
          }
          sum.first += most;
        }
        return sum;
      },
      [](Bounds a, Bounds b) {
        return Bounds{a.first + b.first, a.second + b.second};
      });
  // The column array is held twice for a moment (Csr::from_arrays copies it into its buffer).
  const auto need = [&](std::int64_t nnz) { return nnz * 8 + (n + 1) * 16; };
  require_memory(need(lower),
                 cat("pattern '", excerpt(spec, 64), "' over ", n, " tokens: at least ", lower, " edges"));
  // Duplicates rarely shrink a pattern much (random:R with R near n about halves it); a job 16
  // times larger than memory could hold is a mistake in the expression, not a graph to build.
  const std::int64_t available = available_memory_bytes();
  if (available > 0 && upper / 16 > static_cast<double>(available / 4))
    throw Error(cat("pattern '", excerpt(spec, 64), "' over ", n, " tokens draws ", upper,
                    " edges before removing duplicates, far more than memory can hold (",
                    format_bytes(available), " available)"));

  // Two passes over the rows (count, then fill in place). Buffering the rows instead would save
  // generating them twice but hold a third copy of the column array at the peak, since freed
  // chunks stay in the allocator's heap; rows are cheap to regenerate.
  const auto make_union = [&] { return detail::RowUnion(terms); };
  tbb::enumerable_thread_specific<detail::RowUnion> unions(make_union);
  std::vector<std::int64_t> counts(static_cast<std::size_t>(n));
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, kRowGrain), [&](const auto& r) {
    auto& u = unions.local();
    for (auto i = r.begin(); i < r.end(); ++i)
      counts[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(u.row(i).size());
  });
  std::vector<std::int64_t> row_ptr(static_cast<std::size_t>(n + 1));
  const std::int64_t nnz = exclusive_scan(counts, row_ptr.data());
  counts = {};
  require_memory(need(nnz), cat("pattern '", excerpt(spec, 64), "' over ", n, " tokens: ", nnz, " edges"));

  std::vector<std::int32_t> col;
  detail::resize_huge(col, static_cast<std::size_t>(nnz));
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, kRowGrain), [&](const auto& r) {
    auto& u = unions.local();
    for (auto i = r.begin(); i < r.end(); ++i) {
      const auto row = u.row(i);
      std::copy(row.begin(), row.end(), col.begin() + row_ptr[static_cast<std::size_t>(i)]);
    }
  });
  return Csr::from_arrays(n, std::move(row_ptr), std::move(col));
}

}  // namespace diffuser::graphs
