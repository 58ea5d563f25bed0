// Parsing of pattern expressions into PatternTerm values, the term table behind --help, and the
// per-term random streams.
#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/graphs/pattern.hpp>

namespace diffuser::graphs {

namespace {

// Parameter names double as the text of error messages ("R must be ..."), so one table drives
// both the parser and pattern_help().
struct TermInfo {
  std::string_view name;
  std::vector<std::string_view> params;  // empty for self/full; special terms parse themselves
  std::string_view usage;
  std::string_view help;
};

const std::vector<TermInfo>& term_table() {
  static const std::vector<TermInfo> table = {
      {"window", {"R"}, "window:R", "token i attends to every j with |i-j| <= R (itself included)"},
      {"blocks",
       {"W"},
       "blocks:W",
       "overlapping blocks of W tokens at stride W/2 (W even), all pairs inside a block (authors' local "
       "pattern)"},
      {"dilated", {"R", "G"}, "dilated:R:G", "token i attends to i +- t*G for t = 0..R (itself included)"},
      {"global", {"G"}, "global:G", "the first G tokens attend to all tokens and are attended by all"},
      {"global-random",
       {"G"},
       "global-random:G",
       "G distinct seeded random positions are global (as global:G)"},
      {"global-at", {}, "global-at:I,J,...", "the listed positions are global (as global:G)"},
      {"random", {"R"}, "random:R", "R seeded random incoming edges per token (duplicates collapse)"},
      {"block-random",
       {"B", "R"},
       "block-random:B:R",
       "each aligned block of B tokens attends to all tokens of R seeded random blocks of B (dense tiles)"},
      {"bigbird",
       {"B", "R", "G"},
       "bigbird:B:R:G",
       "blocks of B tokens: 3-block window, R seeded random key blocks per query block, first G blocks "
       "global"},
      {"self", {}, "self", "every token attends to itself"},
      {"full", {}, "full", "all N^2 pairs (refused when N^2 > 2^31)"},
      {"diffuser",
       {"W", "R", "G"},
       "diffuser[:W:R:G]",
       "the authors' recipe blocks:W+random:R+global-random:G (default 64:64:64)"},
      {"diffuser-blocks",
       {"W", "R", "G"},
       "diffuser-blocks[:W:R:G]",
       "the recipe with its R random edges per token drawn as R/32 random blocks of 32: "
       "blocks:W+block-random:32:R/32+global-random:G (default 64:64:64; R a multiple of 32)"},
      {"file", {}, "file:PATH", "the edges of a graph file (.txt .edges .el .mtx .npy .dot .gv .graphml)"},
      {"plugin",
       {},
       "plugin:LIB.so[:ARGS]",
       "the edges a plugin library emits (C ABI of diffuser/graphs/plugin.h)"},
  };
  return table;
}

const TermInfo* find_term(std::string_view name) {
  for (const auto& t : term_table())
    if (t.name == name) return &t;
  return nullptr;
}

std::string known_terms() {
  std::string s;
  for (const auto& t : term_table()) s += s.empty() ? std::string(t.name) : cat(", ", t.name);
  return s;
}

std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

class TermParser {
 public:
  TermParser(std::string_view spec, std::string_view text) : spec_(spec), text_(text) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw UsageError(cat("pattern '", excerpt(spec_, 64), "': term '", excerpt(text_, 48), "': ", what));
  }

  // A decimal integer in [0, kMaxNodes]; `what` names it in the message ("R", "id").
  std::int64_t number(std::string_view s, std::string_view what, std::string_view usage) const {
    if (s.empty()) fail(cat(what, " is missing (usage: ", usage, ")"));
    std::int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc::result_out_of_range ||
        (ec == std::errc() && ptr == s.data() + s.size() && v > kMaxNodes))
      fail(cat(what, " = ", excerpt(s), " is too large (at most ", kMaxNodes, ")"));
    if (ec != std::errc() || ptr != s.data() + s.size())
      fail(cat(what, " must be a non-negative integer, got '", excerpt(s), "' (usage: ", usage, ")"));
    if (v < 0) fail(cat(what, " must be non-negative, got ", v, " (usage: ", usage, ")"));
    return v;
  }

 private:
  std::string_view spec_, text_;
};

PatternTerm make_term(std::string_view text, std::string_view name) {
  PatternTerm t;
  t.text = std::string(text);
  t.name = std::string(name);
  return t;
}

// Parses one trimmed, non-empty term, appending one PatternTerm (three for diffuser).
void parse_term(std::string_view spec, std::string_view text, std::vector<PatternTerm>& out) {
  const TermParser p(spec, text);
  const auto colon = text.find(':');
  const std::string_view name = text.substr(0, colon);
  const std::string_view rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  const TermInfo* info = find_term(name);
  if (!info) p.fail(cat("unknown term '", excerpt(name), "' (known: ", known_terms(), ")"));
  PatternTerm term = make_term(text, name);

  if (name == "file" || name == "plugin") {
    if (colon == std::string_view::npos || trim(rest).empty())
      p.fail(cat("needs a path (usage: ", info->usage, ")"));
    if (name == "file") {
      term.path = std::string(rest);
    } else {
      const auto sep = rest.find(':');
      term.path = std::string(rest.substr(0, sep));
      if (sep != std::string_view::npos) term.args = std::string(rest.substr(sep + 1));
      if (term.path.empty()) p.fail(cat("needs a library path (usage: ", info->usage, ")"));
    }
    out.push_back(std::move(term));
    return;
  }
  if (name == "global-at") {
    if (colon == std::string_view::npos || rest.empty())
      p.fail(cat("needs at least one position (usage: ", info->usage, ")"));
    for (auto id : split(rest, ',')) term.params.push_back(p.number(id, "position", info->usage));
    out.push_back(std::move(term));
    return;
  }

  const auto params = colon == std::string_view::npos ? std::vector<std::string_view>() : split(rest, ':');
  const bool recipe = name == "diffuser" || name == "diffuser-blocks";
  const bool diffuser_default = recipe && params.empty();
  if (!diffuser_default && params.size() != info->params.size())
    p.fail(cat("takes ", info->params.size(), " parameter", info->params.size() == 1 ? "" : "s", ", got ",
               params.size(), " (usage: ", info->usage, ")"));
  for (std::size_t k = 0; k < params.size(); ++k)
    term.params.push_back(p.number(params[k], info->params[k], info->usage));

  const auto& v = term.params;
  if ((name == "blocks" || (recipe && !diffuser_default)) && (v[0] < 2 || v[0] % 2 != 0))
    p.fail(cat("W must be even and at least 2, got ", v[0]));
  if (name == "dilated" && v[1] < 1) p.fail(cat("G (the dilation) must be at least 1, got ", v[1]));
  if ((name == "bigbird" || name == "block-random") && v[0] < 1)
    p.fail(cat("B (the block size) must be at least 1, got ", v[0]));
  if (name == "block-random" && v[0] > 1 << 20)
    p.fail(cat("B (the block size) must be at most 2^20, got ", v[0]));

  if (recipe) {
    const std::int64_t w = diffuser_default ? 64 : v[0], r = diffuser_default ? 64 : v[1],
                       g = diffuser_default ? 64 : v[2];
    if (name == "diffuser-blocks" && r % 32 != 0) p.fail(cat("R must be a multiple of 32, got ", r));
    PatternTerm blocks = make_term(cat("blocks:", w), "blocks"),
                random = name == "diffuser" ? make_term(cat("random:", r), "random")
                                            : make_term(cat("block-random:32:", r / 32), "block-random"),
                global = make_term(cat("global-random:", g), "global-random");
    blocks.params = {w};
    random.params = name == "diffuser" ? std::vector<std::int64_t>{r} : std::vector<std::int64_t>{32, r / 32};
    global.params = {g};
    out.push_back(std::move(blocks));
    out.push_back(std::move(random));
    out.push_back(std::move(global));
    return;
  }
  out.push_back(std::move(term));
}

}  // namespace

std::uint64_t term_stream(std::size_t index, std::string_view name) {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a of the name, then mixed with the index
  for (const char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return rng::mix64(h ^ rng::mix64(static_cast<std::uint64_t>(index) + 1));
}

std::vector<PatternTerm> parse_pattern(std::string_view spec) {
  if (trim(spec).empty())
    throw UsageError(cat("empty pattern '", excerpt(spec), "' (try ", kDiffuserRecipe, ")"));
  std::vector<PatternTerm> terms;
  for (const auto raw : split(spec, '+')) {
    const auto text = trim(raw);
    if (text.empty())
      throw UsageError(
          cat("pattern '", excerpt(spec, 64), "': empty term (two '+' in a row, or a '+' at an end)"));
    parse_term(spec, text, terms);
  }
  for (std::size_t k = 0; k < terms.size(); ++k) {
    terms[k].index = k;
    terms[k].stream = term_stream(k, terms[k].name);
  }
  return terms;
}

std::vector<std::string> pattern_help() {
  std::size_t width = 0;
  for (const auto& t : term_table()) width = std::max(width, t.usage.size());
  std::vector<std::string> lines;
  for (const auto& t : term_table())
    lines.push_back(cat(t.usage, std::string(width + 2 - t.usage.size(), ' '), t.help));
  return lines;
}

}  // namespace diffuser::graphs
