// Private to graphs/: one reader and one writer per graph file format, and the text scanning
// they share (whole-file reads, numbered lines, integer fields).
#pragma once

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/error.hpp>

namespace diffuser::graphs::detail {

using MaybeN = std::optional<std::int64_t>;

// Parsers read the whole file's contents; `name` (the path) starts every error message.
EdgeList parse_edge_list(std::string_view text, const std::string& name, MaybeN n);
void write_edge_list(const Csr& g, std::ostream& out);
EdgeList parse_matrix_market(std::string_view text, const std::string& name, MaybeN n);
void write_matrix_market(const Csr& g, std::ostream& out);
EdgeList read_npy_edges(const std::filesystem::path& path, MaybeN n);
EdgeList parse_npy_edges(std::string_view bytes, const std::string& name, MaybeN n);
void write_npy_edges(const Csr& g, const std::filesystem::path& path);
EdgeList parse_dot(std::string_view text, const std::string& name, MaybeN n);
void write_dot(const Csr& g, std::ostream& out);
EdgeList parse_graphml(std::string_view text, const std::string& name, MaybeN n);
void write_graphml(const Csr& g, std::ostream& out);

// The whole file as text; Error "PATH: cannot read: <reason>" when it cannot be opened, or when
// its size does not fit the memory budget.
std::string read_text_file(const std::filesystem::path& path);

// Deepest nesting the DOT (subgraphs, braces) and GraphML (elements) readers accept: far beyond
// any real file, far below what could exhaust a thread's stack.
inline constexpr int kMaxNesting = 256;

// Refuses (Error naming `name`) a graph whose CSR would not fit the memory budget; `why` says
// where n comes from ("largest id 2147483646").
void require_graph_memory(const std::string& name, std::int64_t n, std::int64_t edges, std::string_view why);

// Walks a text line by line and formats errors as "NAME:LINE: what".
class LineReader {
 public:
  LineReader(std::string_view text, std::string name) : path_(std::move(name)), text_(text) {}
  // The next line without its terminator ("\n" or "\r\n"); false at the end of the file.
  bool next(std::string_view& line);
  std::int64_t line_number() const { return line_; }
  const std::string& path() const { return path_; }
  // Before the first line (an empty file) there is no line to name.
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(line_ > 0 ? cat(path_, ":", line_, ": ", what) : cat(path_, ": ", what));
  }

 private:
  std::string path_;
  std::string_view text_;
  std::size_t pos_ = 0;
  std::int64_t line_ = 0;
};

// Splits on spaces and tabs into at most `max` fields; returns how many fields the line has
// (which may exceed max, so callers can report extra fields).
int split_fields(std::string_view line, std::string_view* fields, int max);

// A whole field as a (possibly negative) integer; false for anything else.
inline bool parse_int(std::string_view s, std::int64_t& v) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
}

// Buffers formatted integers and flushes them to a stream in large writes: text writers of
// graphs with 10^8 edges are bound by formatting, not by the stream.
class TextSink {
 public:
  explicit TextSink(std::ostream& out) : out_(out) { buf_.reserve(kFlush + 64); }
  ~TextSink() { flush(); }
  TextSink(const TextSink&) = delete;
  TextSink& operator=(const TextSink&) = delete;
  TextSink& operator<<(std::string_view s) {
    buf_.append(s);
    if (buf_.size() >= kFlush) flush();
    return *this;
  }
  TextSink& operator<<(std::int64_t v) {
    char tmp[24];
    const auto res = std::to_chars(tmp, tmp + sizeof tmp, v);
    return *this << std::string_view(tmp, static_cast<std::size_t>(res.ptr - tmp));
  }
  void flush() {
    out_.write(buf_.data(), static_cast<std::streamsize>(buf_.size()));
    buf_.clear();
  }

 private:
  static constexpr std::size_t kFlush = 1 << 20;
  std::ostream& out_;
  std::string buf_;
};

// A field that must be a number (Matrix Market values, edge-list weights): checked, then ignored.
bool is_number(std::string_view s);

// The integer id a node's name stands for (DOT node names, GraphML ids and node_id values):
// "5", or "n5" when `allow_n_prefix`; -1 when the text is no such id.
std::int64_t node_id_from_text(std::string_view text, bool allow_n_prefix);

// n from the caller, else from the file's declaration, else largest id + 1 (0 for no edges);
// checks the caller's n is usable.
std::int64_t resolve_node_count(const std::string& path, MaybeN caller, MaybeN declared, std::int64_t max_id);

}  // namespace diffuser::graphs::detail
