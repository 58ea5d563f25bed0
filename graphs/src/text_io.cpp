// Text scanning shared by the graph readers: whole-file reads, lines, fields, numbers and ids.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <diffuser/engine/sys.hpp>

#include "format_io.hpp"

namespace diffuser::graphs::detail {

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(cat(path.string(), ": cannot read: ", std::strerror(errno)));
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(cat(path.string(), ": cannot read: is a directory"));
  // A device (/dev/zero, /dev/urandom) never ends: refuse it rather than read until the budget.
  if (std::filesystem::is_character_file(path, ec) || std::filesystem::is_block_file(path, ec))
    throw Error(cat(path.string(), ": cannot read: a device, not a graph file"));
  std::string text;
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec) {
    require_memory(static_cast<double>(size), cat(path.string(), ": reading the ",
                                                  format_bytes(static_cast<std::int64_t>(size)), " file"));
    text.reserve(size);
  }
  // In pieces, so that a pipe or a device without a size (/dev/zero) meets the budget as it grows.
  constexpr std::size_t kPiece = 1 << 20;
  while (in) {
    const std::size_t at = text.size();
    if (at + kPiece > text.capacity())
      require_memory(2.0 * static_cast<double>(at + kPiece),
                     cat(path.string(), ": reading more than ", at, " bytes"));
    text.resize(at + kPiece);
    in.read(text.data() + at, static_cast<std::streamsize>(kPiece));
    text.resize(at + static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw Error(cat(path.string(), ": read error"));
  return text;
}

void require_graph_memory(const std::string& name, std::int64_t n, std::int64_t edges, std::string_view why) {
  require_memory(Csr::build_bytes(n, edges),
                 cat(name, ": a graph of ", n, " nodes (", why, ") and ", edges, " edges"));
}

bool is_number(std::string_view s) {
  if (s.size() > 1 && s[0] == '+' && s[1] != '-') s.remove_prefix(1);  // strtod's "+1.5"
  double v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  // Out of range (1e999) is still a number; only the value is lost, and values are ignored.
  return !s.empty() && ptr == s.data() + s.size() &&
         (ec == std::errc() || ec == std::errc::result_out_of_range);
}

std::int64_t node_id_from_text(std::string_view text, bool allow_n_prefix) {
  if (allow_n_prefix && text.size() > 1 && text[0] == 'n') text.remove_prefix(1);
  if (text.empty() || text.size() > 10 || text[0] == '-' || text[0] == '+') return -1;
  std::int64_t v = 0;
  if (!parse_int(text, v) || v > kMaxNodes - 1) return -1;
  return v;
}

bool LineReader::next(std::string_view& line) {
  if (pos_ >= text_.size()) return false;
  const auto end = text_.find('\n', pos_);
  const auto stop = end == std::string::npos ? text_.size() : end;
  line = std::string_view(text_).substr(pos_, stop - pos_);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos_ = stop + 1;
  ++line_;
  return true;
}

int split_fields(std::string_view line, std::string_view* fields, int max) {
  int count = 0;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    const auto start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (count < max) fields[count] = line.substr(start, i - start);
    ++count;
  }
  return count;
}

std::int64_t resolve_node_count(const std::string& path, MaybeN caller, MaybeN declared,
                                std::int64_t max_id) {
  if (caller) {
    if (*caller < 0 || *caller > kMaxNodes)
      throw UsageError(cat(path, ": number of nodes ", *caller, " is outside [0, ", kMaxNodes, "]"));
    return *caller;
  }
  if (declared) return std::max(*declared, max_id + 1);
  return max_id + 1;
}

}  // namespace diffuser::graphs::detail
