// GraphViz DOT, read by a parser of the DOT grammar (graphviz.org/doc/info/lang.html) and written
// by a plain text writer. Node names are the ids; an edge "j -> i" means token i attends to token
// j; undirected "graph" edges give both directions. Edge groups ("{0 1} -> 2", "a -> subgraph s
// {b c}") connect every node of one side to every node of the other, as Graphviz does. Attributes
// (labels, HTML labels, weights, ports) are read and ignored. Subgraphs may nest kMaxNesting deep;
// deeper input is refused with its line, so no file can exhaust the stack.
#include <algorithm>
#include <cctype>

#include <diffuser/engine/sys.hpp>

#include "format_io.hpp"

namespace diffuser::graphs::detail {

namespace {

enum class Tok { id, lbrace, rbrace, lbracket, rbracket, semi, comma, equals, colon, plus, edge_op, end };

struct Token {
  Tok kind = Tok::end;
  std::string text;      // an ID's value: unquoted, escapes of \" and line continuations resolved
  bool keyword = false;  // an unquoted ID that spells a keyword (any case)
  bool quoted = false;   // a "..." string (the only kind '+' concatenates)
  std::int64_t line = 0;
};

bool id_start(unsigned char c) {
  return std::isalpha(c) || c == '_' || c >= 0x80;
}
bool id_char(unsigned char c) {
  return id_start(c) || std::isdigit(c);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

class Lexer {
 public:
  Lexer(std::string_view text, const std::string& name) : t_(text), name_(name) {}

  [[noreturn]] void fail(std::int64_t line, const std::string& what) const {
    throw Error(cat(name_, ":", line, ": ", what));
  }

  Token next() {
    skip_blanks_and_comments();
    Token tok;
    tok.line = line_;
    if (i_ >= t_.size()) return tok;
    const char c = t_[i_];
    const auto single = [&](Tok k) {
      ++i_;
      tok.kind = k;
      return tok;
    };
    switch (c) {
      case '{':
        return single(Tok::lbrace);
      case '}':
        return single(Tok::rbrace);
      case '[':
        return single(Tok::lbracket);
      case ']':
        return single(Tok::rbracket);
      case ';':
        return single(Tok::semi);
      case ',':
        return single(Tok::comma);
      case '=':
        return single(Tok::equals);
      case ':':
        return single(Tok::colon);
      case '+':
        return single(Tok::plus);
      case '"':
        return quoted(tok);
      case '<':
        return html(tok);
      default:
        break;
    }
    if (c == '-' && i_ + 1 < t_.size() && (t_[i_ + 1] == '>' || t_[i_ + 1] == '-')) {
      tok.kind = Tok::edge_op;
      tok.text = std::string(t_.substr(i_, 2));
      i_ += 2;
      return tok;
    }
    if (c == '-' || c == '.' || std::isdigit(static_cast<unsigned char>(c))) return numeral(tok);
    if (id_start(static_cast<unsigned char>(c))) {
      const auto start = i_;
      while (i_ < t_.size() && id_char(static_cast<unsigned char>(t_[i_]))) ++i_;
      tok.kind = Tok::id;
      tok.text = std::string(t_.substr(start, i_ - start));
      const std::string k = lower(tok.text);
      tok.keyword =
          k == "node" || k == "edge" || k == "graph" || k == "digraph" || k == "subgraph" || k == "strict";
      return tok;
    }
    fail(line_, cat("unexpected character '", excerpt(t_.substr(i_, 1)), "'"));
  }

 private:
  void skip_blanks_and_comments() {
    while (i_ < t_.size()) {
      const char c = t_[i_];
      if (c == '\n') {
        ++line_;
        ++i_;
        // A line starting with '#' is C preprocessor output, which Graphviz skips.
        std::size_t j = i_;
        while (j < t_.size() && (t_[j] == ' ' || t_[j] == '\t')) ++j;
        if (j < t_.size() && t_[j] == '#') skip_to_line_end(j);
      } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
        ++i_;
      } else if (c == '#' && i_ == 0) {
        skip_to_line_end(i_);
      } else if (c == '/' && i_ + 1 < t_.size() && t_[i_ + 1] == '/') {
        skip_to_line_end(i_);
      } else if (c == '/' && i_ + 1 < t_.size() && t_[i_ + 1] == '*') {
        const std::int64_t start = line_;
        const auto end = t_.find("*/", i_ + 2);
        if (end == std::string_view::npos) fail(start, "unterminated /* comment");
        count_lines(i_, end);
        i_ = end + 2;
      } else {
        return;
      }
    }
  }
  void skip_to_line_end(std::size_t from) {
    const auto nl = t_.find('\n', from);
    i_ = nl == std::string_view::npos ? t_.size() : nl;
  }
  void count_lines(std::size_t from, std::size_t to) {
    line_ += std::count(t_.begin() + static_cast<std::ptrdiff_t>(from),
                        t_.begin() + static_cast<std::ptrdiff_t>(to), '\n');
  }

  // "..." with \" for a quote and backslash-newline as a line continuation; other escapes are
  // kept as written (they mean something to Graphviz's renderers only).
  Token quoted(Token& tok) {
    const std::int64_t start = line_;
    ++i_;
    while (true) {
      if (i_ >= t_.size()) fail(start, "unterminated quoted string");
      const char c = t_[i_];
      if (c == '"') {
        ++i_;
        break;
      }
      if (c == '\\' && i_ + 1 < t_.size() && (t_[i_ + 1] == '"' || t_[i_ + 1] == '\n')) {
        if (t_[i_ + 1] == '"') tok.text.push_back('"');
        if (t_[i_ + 1] == '\n') ++line_;
        i_ += 2;
        continue;
      }
      if (c == '\\' && i_ + 2 < t_.size() && t_[i_ + 1] == '\r' && t_[i_ + 2] == '\n') {
        ++line_;
        i_ += 3;
        continue;
      }
      if (c == '\n') ++line_;
      tok.text.push_back(c);
      ++i_;
    }
    tok.kind = Tok::id;
    tok.quoted = true;
    return tok;
  }

  // <...> with balanced angle brackets: an HTML string (a label), kept as its inner text.
  Token html(Token& tok) {
    const std::int64_t start = line_;
    int depth = 0;
    const auto begin = i_;
    while (true) {
      if (i_ >= t_.size()) fail(start, "unterminated HTML string '<...>' (unbalanced '<' and '>')");
      const char c = t_[i_++];
      if (c == '\n') ++line_;
      if (c == '<') ++depth;
      if (c == '>' && --depth == 0) break;
    }
    tok.kind = Tok::id;
    tok.text = std::string(t_.substr(begin + 1, i_ - begin - 2));
    return tok;
  }

  // [-]?(.[0-9]+ | [0-9]+(.[0-9]*)?)
  Token numeral(Token& tok) {
    const auto start = i_;
    if (t_[i_] == '-') ++i_;
    bool digits = false, dot = false;
    while (i_ < t_.size() && (std::isdigit(static_cast<unsigned char>(t_[i_])) || (t_[i_] == '.' && !dot))) {
      if (t_[i_] == '.') {
        dot = true;
      } else {
        digits = true;
      }
      ++i_;
    }
    const std::string_view text = t_.substr(start, i_ - start);
    if (!digits) fail(line_, cat("'", excerpt(text), "' is not a number"));
    if (i_ < t_.size() && id_start(static_cast<unsigned char>(t_[i_]))) {
      auto end = i_;
      while (end < t_.size() && id_char(static_cast<unsigned char>(t_[end]))) ++end;
      fail(line_, cat("'", excerpt(t_.substr(start, end - start)),
                      "' is not a DOT identifier (a name cannot start with a digit; quote it)"));
    }
    tok.kind = Tok::id;
    tok.text = std::string(text);
    return tok;
  }

  std::string_view t_;
  const std::string& name_;
  std::size_t i_ = 0;
  std::int64_t line_ = 1;
};

std::string describe(const Token& t) {
  switch (t.kind) {
    case Tok::id:
      return cat("'", excerpt(t.text, 32), "'");
    case Tok::lbrace:
      return "'{'";
    case Tok::rbrace:
      return "'}'";
    case Tok::lbracket:
      return "'['";
    case Tok::rbracket:
      return "']'";
    case Tok::semi:
      return "';'";
    case Tok::comma:
      return "','";
    case Tok::equals:
      return "'='";
    case Tok::colon:
      return "':'";
    case Tok::plus:
      return "'+'";
    case Tok::edge_op:
      return cat("'", t.text, "'");
    case Tok::end:
      return "the end of the file";
  }
  return "?";
}

using NodeSet = std::vector<std::int32_t>;

class DotParser {
 public:
  DotParser(std::string_view text, const std::string& name, MaybeN n) : lex_(text, name), name_(name), n_(n) {
    advance();
  }

  EdgeList parse() {
    if (is_keyword("strict")) advance();
    if (!is_keyword("graph") && !is_keyword("digraph"))
      fail(cat("expected 'digraph' or 'graph' to start the file, found ", describe(tok_)));
    directed_ = lower(tok_.text) == "digraph";
    advance();
    if (tok_.kind == Tok::id && !tok_.keyword) advance();  // the graph's name
    expect(Tok::lbrace, "'{' to open the graph");
    statements(1, nullptr);
    expect(Tok::rbrace, "'}' to close the graph");
    if (tok_.kind != Tok::end)
      fail(cat("unexpected ", describe(tok_), " after the graph (one graph per file)"));
    edges_.n = n_ ? *n_ : max_id_ + 1;
    return std::move(edges_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { lex_.fail(tok_.line, what); }
  void advance() { tok_ = lex_.next(); }
  bool is_keyword(const char* k) const {
    return tok_.kind == Tok::id && tok_.keyword && lower(tok_.text) == k;
  }
  void expect(Tok kind, const char* what) {
    if (tok_.kind != kind) fail(cat("expected ", what, ", found ", describe(tok_)));
    advance();
  }
  // An ID, with Graphviz's concatenation of quoted strings: "a" + "b".
  Token take_id(const char* what) {
    if (tok_.kind != Tok::id) fail(cat("expected ", what, ", found ", describe(tok_)));
    Token t = tok_;
    advance();
    while (t.quoted && tok_.kind == Tok::plus) {
      advance();
      if (tok_.kind != Tok::id || !tok_.quoted)
        fail(cat("expected a quoted string after '+', found ", describe(tok_)));
      t.text += tok_.text;
      advance();
    }
    return t;
  }

  // stmt_list inside braces at `depth`; the nodes it mentions go to `collect` (when it is a
  // subgraph whose node set an edge may need).
  void statements(int depth, NodeSet* collect) {
    while (tok_.kind != Tok::rbrace && tok_.kind != Tok::end) {
      statement(depth, collect);
      if (tok_.kind == Tok::semi) advance();
    }
  }

  void statement(int depth, NodeSet* collect) {
    if ((is_keyword("graph") || is_keyword("node") || is_keyword("edge"))) {
      advance();
      if (tok_.kind != Tok::lbracket)
        fail(cat("expected '[' after an attribute statement, found ", describe(tok_)));
      attributes();
      return;
    }
    if (tok_.kind == Tok::id && !tok_.keyword) {
      // ID '=' ID sets a graph attribute; anything else starting with an ID is a node or edge.
      const Token first = take_id("a node");
      if (tok_.kind == Tok::equals) {
        advance();
        take_id("an attribute value");
        return;
      }
      NodeSet left{node(first)};
      edge_chain(depth, std::move(left), collect);
      return;
    }
    if (is_keyword("subgraph") || tok_.kind == Tok::lbrace) {
      NodeSet left = subgraph(depth);
      edge_chain(depth, std::move(left), collect);
      return;
    }
    fail(cat("expected a statement, found ", describe(tok_)));
  }

  // The rest of a node or edge statement whose first operand is `left`.
  void edge_chain(int depth, NodeSet left, NodeSet* collect) {
    if (collect) collect->insert(collect->end(), left.begin(), left.end());
    while (tok_.kind == Tok::edge_op) {
      if (directed_ && tok_.text != "->") fail("'--' in a digraph (its edges are written '->')");
      if (!directed_ && tok_.text != "--") fail("'->' in an undirected graph (its edges are written '--')");
      advance();
      NodeSet right;
      if (is_keyword("subgraph") || tok_.kind == Tok::lbrace) {
        right = subgraph(depth);
      } else {
        if (tok_.kind != Tok::id || tok_.keyword)
          fail(cat("expected a node or a subgraph after the edge, found ", describe(tok_)));
        right = {node(take_id("a node"))};
      }
      connect(left, right);
      if (collect) collect->insert(collect->end(), right.begin(), right.end());
      left = std::move(right);
    }
    if (tok_.kind == Tok::lbracket) attributes();
  }

  // [subgraph [ID]] '{' stmt_list '}': the set of nodes it mentions.
  NodeSet subgraph(int depth) {
    if (is_keyword("subgraph")) {
      advance();
      if (tok_.kind == Tok::id && !tok_.keyword) advance();
    }
    if (tok_.kind != Tok::lbrace) fail(cat("expected '{' to open the subgraph, found ", describe(tok_)));
    if (depth + 1 > kMaxNesting) fail(cat("subgraphs nested more than ", kMaxNesting, " deep"));
    advance();
    NodeSet nodes;
    statements(depth + 1, &nodes);
    expect(Tok::rbrace, "'}' to close the subgraph");
    std::sort(nodes.begin(), nodes.end());
    nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
    return nodes;
  }

  // node_id: ID [':' port [':' compass]]; the name must be an id in range.
  std::int32_t node(const Token& t) {
    const std::int64_t id = node_id_from_text(t.text, false);
    if (id < 0)
      lex_.fail(t.line,
                cat("node '", excerpt(t.text, 32), "' is not an integer id (nodes must be named 0..N-1)"));
    if (n_ && id >= *n_) lex_.fail(t.line, cat("node ", id, " is outside [0, ", *n_, ")"));
    if (tok_.kind == Tok::colon) {
      advance();
      take_id("a port");
      if (tok_.kind == Tok::colon) {
        advance();
        take_id("a compass point");
      }
    }
    max_id_ = std::max(max_id_, id);
    return static_cast<std::int32_t>(id);
  }

  // ('[' (ID ['=' ID] [';' | ','])* ']')+, all ignored.
  void attributes() {
    while (tok_.kind == Tok::lbracket) {
      advance();
      while (tok_.kind != Tok::rbracket) {
        take_id("an attribute name");
        if (tok_.kind == Tok::equals) {
          advance();
          take_id("an attribute value");
        }
        if (tok_.kind == Tok::semi || tok_.kind == Tok::comma) advance();
        if (tok_.kind == Tok::end) fail("unterminated attribute list (missing ']')");
      }
      advance();
    }
  }

  // Every node of `from` to every node of `to`, within the memory budget.
  void connect(const NodeSet& from, const NodeSet& to) {
    const double pairs =
        static_cast<double>(from.size()) * static_cast<double>(to.size()) * (directed_ ? 1 : 2);
    if (pairs > static_cast<double>(edges_.src.capacity() - edges_.src.size()))
      require_memory(8.0 * (static_cast<double>(edges_.size()) + pairs) * 2,
                     cat(name_, ":", tok_.line, ": the edges of this file (", edges_.size(), " so far, ",
                         pairs, " more from this edge group)"));
    for (const auto s : from)
      for (const auto d : to) {
        edges_.add(s, d);
        if (!directed_ && s != d) edges_.add(d, s);
      }
  }

  Lexer lex_;
  const std::string& name_;
  MaybeN n_;
  Token tok_;
  bool directed_ = true;
  std::int64_t max_id_ = -1;
  EdgeList edges_;
};

}  // namespace

EdgeList parse_dot(std::string_view text, const std::string& name, MaybeN n) {
  return DotParser(text, name, n).parse();
}

void write_dot(const Csr& g, std::ostream& out) {
  TextSink sink(out);
  sink << "// diffuser token graph: " << g.num_nodes() << " nodes, " << g.num_edges()
       << " edges; j -> i means token i attends to token j\ndigraph G {\n";
  for (std::int64_t v = 0; v < g.num_nodes(); ++v) sink << v << ";\n";  // isolated tokens count too
  for (std::int64_t i = 0; i < g.num_nodes(); ++i)
    for (const auto j : g.neighbors(i)) sink << std::int64_t{j} << "->" << i << ";\n";
  sink << "}\n";
}

}  // namespace diffuser::graphs::detail
