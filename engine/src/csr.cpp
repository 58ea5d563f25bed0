#include <algorithm>
#include <atomic>
#include <numeric>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>
#include <tbb/parallel_scan.h>

#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>

namespace diffuser {

namespace {

void check_node_count(std::int64_t n) {
  if (n < 0 || n > kMaxNodes)
    throw Error(cat("number of nodes ", n, " is out of range [0, ", kMaxNodes, "]"));
}

// Index of the first edge with an endpoint outside [0, n), or -1.
std::int64_t first_bad_edge(std::int64_t n, std::span<const std::int32_t> src,
                            std::span<const std::int32_t> dst) {
  const auto m = static_cast<std::int64_t>(src.size());
  return tbb::parallel_reduce(
      tbb::blocked_range<std::int64_t>(0, m, 1 << 16), std::int64_t{-1},
      [&](const tbb::blocked_range<std::int64_t>& r, std::int64_t found) {
        if (found >= 0 && found < r.begin()) return found;
        for (auto e = r.begin(); e < r.end(); ++e)
          if (src[e] < 0 || src[e] >= n || dst[e] < 0 || dst[e] >= n) return e;
        return found;
      },
      [](std::int64_t a, std::int64_t b) { return a < 0 ? b : (b < 0 ? a : std::min(a, b)); });
}

// Exclusive prefix sum of counts[0..n) into offsets[0..n], in parallel.
void exclusive_scan(const std::int64_t* counts, std::int64_t* offsets, std::int64_t n) {
  offsets[0] = 0;
  tbb::parallel_scan(
      tbb::blocked_range<std::int64_t>(0, n, 1 << 14), std::int64_t{0},
      [&](const tbb::blocked_range<std::int64_t>& r, std::int64_t sum, bool final) {
        for (auto i = r.begin(); i < r.end(); ++i) {
          sum += counts[i];
          if (final) offsets[i + 1] = sum;
        }
        return sum;
      },
      std::plus<std::int64_t>());
}

}  // namespace

void EdgeList::append(const EdgeList& other) {
  n = std::max(n, other.n);
  src.insert(src.end(), other.src.begin(), other.src.end());
  dst.insert(dst.end(), other.dst.begin(), other.dst.end());
}

Csr Csr::from_edges(const EdgeList& edges) {
  return from_edges(edges.n, edges.src, edges.dst);
}

Csr Csr::from_edges(std::int64_t n, std::span<const std::int32_t> src, std::span<const std::int32_t> dst) {
  check_node_count(n);
  if (src.size() != dst.size())
    throw Error(cat("edge list has ", src.size(), " sources but ", dst.size(), " destinations"));
  const auto m = static_cast<std::int64_t>(src.size());
  require_memory(build_bytes(n, m), cat("a graph of ", n, " nodes and ", m, " edges"));
  if (const auto bad = first_bad_edge(n, src, dst); bad >= 0)
    throw Error(
        cat("edge ", bad, " (", src[bad], " -> ", dst[bad], ") has an endpoint outside [0, ", n, ")"));

  // Bucket by destination: count, scan, scatter (row order inside a bucket is fixed by the sort).
  Buffer<std::int64_t> cursor(n + 1);
  std::fill(cursor.begin(), cursor.end(), 0);
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, m, 1 << 16), [&](const auto& r) {
    for (auto e = r.begin(); e < r.end(); ++e)
      std::atomic_ref<std::int64_t>(cursor[dst[e]]).fetch_add(1, std::memory_order_relaxed);
  });
  Buffer<std::int64_t> bucket_ptr(n + 1);
  exclusive_scan(cursor.data(), bucket_ptr.data(), n);
  std::copy(bucket_ptr.begin(), bucket_ptr.end() - 1, cursor.begin());
  Buffer<std::int32_t> bucketed(m);
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, m, 1 << 16), [&](const auto& r) {
    for (auto e = r.begin(); e < r.end(); ++e) {
      const auto pos = std::atomic_ref<std::int64_t>(cursor[dst[e]]).fetch_add(1, std::memory_order_relaxed);
      bucketed[pos] = src[e];
    }
  });

  // Sort and deduplicate each row in place; cursor[i] becomes the row's unique count.
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, 256), [&](const auto& r) {
    for (auto i = r.begin(); i < r.end(); ++i) {
      auto* first = bucketed.data() + bucket_ptr[i];
      auto* last = bucketed.data() + bucket_ptr[i + 1];
      std::sort(first, last);
      cursor[i] = std::unique(first, last) - first;
    }
  });
  Buffer<std::int64_t> row_ptr(n + 1);
  exclusive_scan(cursor.data(), row_ptr.data(), n);
  Buffer<std::int32_t> col(row_ptr[n]);
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, 1024), [&](const auto& r) {
    for (auto i = r.begin(); i < r.end(); ++i)
      std::copy_n(bucketed.data() + bucket_ptr[i], cursor[i], col.data() + row_ptr[i]);
  });
  return Csr(n, std::move(row_ptr), std::move(col));
}

Csr Csr::from_arrays(std::int64_t n, std::vector<std::int64_t> row_ptr, std::vector<std::int32_t> col) {
  check_node_count(n);
  if (static_cast<std::int64_t>(row_ptr.size()) != n + 1)
    throw Error(cat("row_ptr has ", row_ptr.size(), " entries, expected n + 1 = ", n + 1));
  Csr g(n, Buffer<std::int64_t>::from_host(row_ptr), Buffer<std::int32_t>::from_host(col));
  g.validate();
  return g;
}

void Csr::validate() const {
  DIFFUSER_CHECK(device() == Device::cpu, "Csr::validate needs the graph on the CPU");
  DIFFUSER_CHECK(row_ptr_.size() == n_ + 1, "row_ptr has ", row_ptr_.size(), " entries, expected ", n_ + 1);
  DIFFUSER_CHECK(row_ptr_[0] == 0, "row_ptr[0] is ", row_ptr_[0], ", expected 0");
  DIFFUSER_CHECK(row_ptr_[n_] == col_.size(), "row_ptr[n] is ", row_ptr_[n_], " but there are ", col_.size(),
                 " column ids");
  // Reports the first bad row so the message names a place, not just a fact.
  const std::int64_t bad = tbb::parallel_reduce(
      tbb::blocked_range<std::int64_t>(0, n_, 1024), std::int64_t{-1},
      [&](const tbb::blocked_range<std::int64_t>& r, std::int64_t found) {
        if (found >= 0 && found < r.begin()) return found;
        for (auto i = r.begin(); i < r.end(); ++i) {
          const auto b = row_ptr_[i], e = row_ptr_[i + 1];
          if (e < b || e > col_.size()) return i;
          for (auto k = b; k < e; ++k) {
            if (col_[k] < 0 || col_[k] >= n_) return i;
            if (k > b && col_[k] <= col_[k - 1]) return i;
          }
        }
        return found;
      },
      [](std::int64_t a, std::int64_t b) { return a < 0 ? b : (b < 0 ? a : std::min(a, b)); });
  if (bad >= 0) {
    const auto b = row_ptr_[bad], e = row_ptr_[bad + 1];
    if (e < b || e > col_.size()) throw Error(cat("row ", bad, ": row_ptr is not non-decreasing"));
    for (auto k = b; k < e; ++k) {
      if (col_[k] < 0 || col_[k] >= n_)
        throw Error(cat("row ", bad, ": column id ", col_[k], " is outside [0, ", n_, ")"));
      if (k > b && col_[k] <= col_[k - 1])
        throw Error(
            cat("row ", bad, ": column ids are not strictly increasing (", col_[k - 1], ", ", col_[k], ")"));
    }
  }
}

bool Csr::has_edge(std::int32_t src, std::int32_t dst) const {
  if (dst < 0 || dst >= n_) return false;
  auto nb = neighbors(dst);
  return std::binary_search(nb.begin(), nb.end(), src);
}

Csr Csr::to(Device d) const {
  return Csr(n_, row_ptr_.to(d), col_.to(d));
}

Csr Csr::transpose(std::vector<std::int64_t>* edge_perm) const {
  DIFFUSER_CHECK(device() == Device::cpu, "Csr::transpose needs the graph on the CPU");
  const std::int64_t m = num_edges();
  std::vector<std::int64_t> counts(static_cast<std::size_t>(n_), 0);
  for (std::int64_t k = 0; k < m; ++k) ++counts[col_[k]];
  Buffer<std::int64_t> t_ptr(n_ + 1);
  t_ptr[0] = 0;
  for (std::int64_t j = 0; j < n_; ++j) t_ptr[j + 1] = t_ptr[j] + counts[j];
  std::vector<std::int64_t> next(t_ptr.begin(), t_ptr.end() - 1);
  Buffer<std::int32_t> t_col(m);
  if (edge_perm) edge_perm->assign(static_cast<std::size_t>(m), 0);
  // Rows visited in increasing order, so every transposed row comes out sorted.
  for (std::int64_t i = 0; i < n_; ++i) {
    for (auto k = row_ptr_[i]; k < row_ptr_[i + 1]; ++k) {
      const auto pos = next[col_[k]]++;
      t_col[pos] = static_cast<std::int32_t>(i);
      if (edge_perm) (*edge_perm)[pos] = k;
    }
  }
  return Csr(n_, std::move(t_ptr), std::move(t_col));
}

EdgeList Csr::edges() const {
  DIFFUSER_CHECK(device() == Device::cpu, "Csr::edges needs the graph on the CPU");
  EdgeList el;
  el.n = n_;
  el.src.assign(col_.begin(), col_.end());
  el.dst.resize(static_cast<std::size_t>(num_edges()));
  for (std::int64_t i = 0; i < n_; ++i)
    std::fill(el.dst.begin() + row_ptr_[i], el.dst.begin() + row_ptr_[i + 1], static_cast<std::int32_t>(i));
  return el;
}

bool Csr::operator==(const Csr& o) const {
  if (n_ != o.n_ || num_edges() != o.num_edges()) return false;
  auto a = row_ptr_.to_vector(), b = o.row_ptr_.to_vector();
  if (a != b) return false;
  return col_.to_vector() == o.col_.to_vector();
}

}  // namespace diffuser
