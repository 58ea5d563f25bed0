// Text scanning shared by the edge-list and Matrix Market readers.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "format_io.hpp"

namespace diffuser::graphs::detail {

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(cat(path.string(), ": cannot read: ", std::strerror(errno)));
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(cat(path.string(), ": cannot read: is a directory"));
  std::string text;
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec) text.reserve(size);
  text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(cat(path.string(), ": read error"));
  return text;
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

std::int64_t resolve_node_count(const std::string& path, MaybeN caller, MaybeN declared, std::int64_t max_id) {
  if (caller) {
    if (*caller < 0 || *caller > kMaxNodes)
      throw UsageError(cat(path, ": number of nodes ", *caller, " is outside [0, ", kMaxNodes, "]"));
    return *caller;
  }
  if (declared) return std::max(*declared, max_id + 1);
  return max_id + 1;
}

EdgeList edges_from_named_graph(const std::string& path, const std::vector<std::string>& names,
                                const std::vector<std::pair<std::size_t, std::size_t>>& pairs, bool undirected,
                                MaybeN n, std::string_view what) {
  const std::int64_t limit = n ? *n : kMaxNodes;
  std::vector<std::int32_t> ids(names.size());
  std::int64_t max_id = -1;
  for (std::size_t v = 0; v < names.size(); ++v) {
    std::int64_t id = 0;
    if (!parse_int(names[v], id))
      throw Error(cat(path, ": ", what, " '", names[v], "' is not an integer id (nodes must be named 0..N-1)"));
    if (id < 0 || id >= limit)
      throw Error(cat(path, ": ", what, " ", id, " is outside [0, ", limit, ")"));
    ids[v] = static_cast<std::int32_t>(id);
    max_id = std::max(max_id, id);
  }
  EdgeList edges;
  edges.src.reserve(pairs.size() * (undirected ? 2 : 1));
  edges.dst.reserve(edges.src.capacity());
  for (const auto& [s, t] : pairs) {
    edges.add(ids[s], ids[t]);
    if (undirected && ids[s] != ids[t]) edges.add(ids[t], ids[s]);
  }
  edges.n = resolve_node_count(path, n, static_cast<std::int64_t>(names.size()), max_id);
  return edges;
}

}  // namespace diffuser::graphs::detail
