// Matrix Market coordinate files: entry (i, j) is A[i, j], the edge j -> i (row = destination),
// 1-based. Reads pattern/real/integer fields and general/symmetric storage; writes pattern general.
#include <algorithm>
#include <cctype>

#include <diffuser/engine/sys.hpp>

#include "format_io.hpp"

namespace diffuser::graphs::detail {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool blank(std::string_view line) {
  return line.find_first_not_of(" \t") == std::string_view::npos;
}

}  // namespace

EdgeList parse_matrix_market(std::string_view text, const std::string& name, MaybeN n) {
  LineReader in(text, name);
  std::string_view line;
  if (!in.next(line)) in.fail("empty file (expected a %%MatrixMarket banner)");
  std::string_view b[6];
  const int nb = split_fields(line, b, 6);
  if (nb != 5 || lower(b[0]) != "%%matrixmarket" || lower(b[1]) != "matrix")
    in.fail("expected the banner '%%MatrixMarket matrix coordinate <field> <symmetry>'");
  if (lower(b[2]) != "coordinate")
    in.fail(cat("format '", excerpt(b[2]), "' is not supported (only 'coordinate')"));
  const std::string field = lower(b[3]), symmetry = lower(b[4]);
  if (field != "pattern" && field != "real" && field != "integer")
    in.fail(cat("field '", excerpt(b[3]), "' is not supported (pattern, real or integer)"));
  if (symmetry != "general" && symmetry != "symmetric")
    in.fail(cat("symmetry '", excerpt(b[4]), "' is not supported (general or symmetric)"));
  const int want_fields = field == "pattern" ? 2 : 3;

  // Size line: the first line that is neither a comment nor blank.
  bool have_size = false;
  while (in.next(line)) {
    if (line.starts_with('%') || blank(line)) continue;
    have_size = true;
    break;
  }
  if (!have_size) in.fail("file ends before the size line 'rows cols entries'");
  std::string_view s[3];
  std::int64_t rows = 0, cols = 0, nnz = 0;
  if (split_fields(line, s, 3) != 3 || !parse_int(s[0], rows) || !parse_int(s[1], cols) ||
      !parse_int(s[2], nnz) || rows < 0 || cols < 0 || nnz < 0)
    in.fail("expected the size line 'rows cols entries' (three non-negative integers)");
  if (rows != cols)
    in.fail(cat("the matrix is ", rows, " x ", cols, "; a token graph needs a square matrix"));
  if (rows > kMaxNodes) in.fail(cat(rows, " rows is more than the ", kMaxNodes, " nodes a graph may have"));
  if (n && rows > *n) in.fail(cat("the matrix has ", rows, " rows but the graph has ", *n, " nodes"));
  // The size line alone fixes the node count: refuse a graph that cannot fit before reading on.
  require_memory(Csr::build_bytes(n ? *n : rows, nnz) +
                     8.0 * static_cast<double>(nnz) * (symmetry == "symmetric" ? 2 : 1),
                 cat(name, ":", in.line_number(), ": the size line's ", rows, " x ", rows, " matrix with ",
                     nnz, " entries"));

  EdgeList edges;
  const bool symmetric = symmetry == "symmetric";
  // Trust the header for the allocation only up to a sane amount: a corrupt count must not
  // turn into a huge reservation.
  edges.src.reserve(static_cast<std::size_t>(std::min<std::int64_t>(nnz, 1 << 24) * (symmetric ? 2 : 1)));
  edges.dst.reserve(edges.src.capacity());
  std::int64_t seen = 0;
  while (in.next(line)) {
    if (line.starts_with('%') || blank(line)) continue;
    if (seen == nnz) in.fail(cat("more entries than the ", nnz, " the size line declares"));
    std::string_view f[3];
    const int count = split_fields(line, f, 3);
    if (count != want_fields)
      in.fail(cat("expected ", want_fields == 2 ? "'i j'" : "'i j value'", " for a ", field,
                  " matrix, found ", count, " field", count == 1 ? "" : "s"));
    std::int64_t i = 0, j = 0;
    if (!parse_int(f[0], i) || !parse_int(f[1], j)) in.fail("entry indices must be integers");
    if (i < 1 || i > rows || j < 1 || j > rows)
      in.fail(cat("entry (", i, ", ", j, ") is outside the ", rows, " x ", rows,
                  " matrix (indices are 1-based)"));
    // Values are not kept (the graph is the sparsity pattern) but must be numbers.
    if (want_fields == 3 && !is_number(f[2])) in.fail(cat("value '", excerpt(f[2]), "' is not a number"));
    edges.add(static_cast<std::int32_t>(j - 1), static_cast<std::int32_t>(i - 1));
    if (symmetric && i != j) edges.add(static_cast<std::int32_t>(i - 1), static_cast<std::int32_t>(j - 1));
    ++seen;
  }
  if (seen < nnz) in.fail(cat("file ends after ", seen, " of the ", nnz, " entries the size line declares"));
  edges.n = resolve_node_count(in.path(), n, rows, -1);
  return edges;
}

void write_matrix_market(const Csr& g, std::ostream& out) {
  TextSink sink(out);
  sink << "%%MatrixMarket matrix coordinate pattern general\n";
  sink << "% diffuser token graph: entry (i, j) = edge j -> i, token i attends to token j\n";
  sink << g.num_nodes() << " " << g.num_nodes() << " " << g.num_edges() << "\n";
  for (std::int64_t i = 0; i < g.num_nodes(); ++i)
    for (const auto j : g.neighbors(i)) sink << i + 1 << " " << std::int64_t{j} + 1 << "\n";
}

}  // namespace diffuser::graphs::detail
