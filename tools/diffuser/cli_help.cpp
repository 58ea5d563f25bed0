#include "cli_help.hpp"

#include <algorithm>
#include <map>
#include <sstream>

#include <diffuser/engine/error.hpp>

namespace diffuser::cli {

namespace {

constexpr std::size_t kWidth = 100;    // --help lines wrap here
constexpr std::size_t kLabelMax = 22;  // longer labels put their text on the next line

// Appends `text` wrapped at kWidth, every line after the first indented by `indent`. A '\n' in the
// text starts a line that is kept as written, after the indent (an aligned list inside a help).
void append_wrapped(std::string& out, const std::string& text, std::size_t first_column, std::size_t indent) {
  std::istringstream lines(text);
  std::string paragraph;
  std::getline(lines, paragraph);
  std::size_t column = first_column;
  bool first_word = true;
  std::istringstream words(paragraph);
  for (std::string w; words >> w;) {
    if (!first_word && column + 1 + w.size() > kWidth) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
      first_word = true;
    }
    if (!first_word) {
      out += ' ';
      ++column;
    }
    out += w;
    column += w.size();
    first_word = false;
  }
  for (std::string line; std::getline(lines, line);) out += "\n" + std::string(indent, ' ') + line;
  out += "\n";
}

// The synopsis: a line that starts with "diffuser NAME" is another form of the command and starts
// under the first; the others continue the form above them.
std::string synopsis(const Command& c, const std::string& prefix) {
  const std::string head = "diffuser " + c.name + " ";
  std::string out;
  std::size_t form_indent = prefix.size() + head.size();
  for (std::size_t i = 0; i < c.usage.size(); ++i) {
    const std::string& line = c.usage[i];
    if (i == 0) {
      out += prefix + head + line + "\n";
    } else if (line.rfind(head, 0) == 0) {
      out += std::string(prefix.size(), ' ') + line + "\n";
      form_indent = prefix.size() + head.size();
    } else {
      out += std::string(form_indent, ' ') + line + "\n";
    }
  }
  if (c.usage.empty()) out = prefix + "diffuser " + c.name + "\n";
  return out;
}

std::string escape_cell(std::string s) {
  std::string out;
  for (char ch : s) out += ch == '|' ? std::string("\\|") : std::string(1, ch);
  return out;
}

// A help paragraph as one table cell: forced line breaks become <br>, blanks collapse.
std::string cell_text(const std::string& help) {
  std::string out;
  std::istringstream lines(help);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string joined;
    for (std::string w; words >> w;) joined += (joined.empty() ? "" : " ") + w;
    if (joined.empty()) continue;
    out += (out.empty() ? "" : "<br>") + joined;
  }
  return escape_cell(out);
}

std::string option_table(const Command& c) {
  std::string out = "| option | meaning |\n|---|---|\n";
  for (const auto& g : c.options) {
    if (c.options.size() > 1 && !g.title.empty()) out += "| **" + escape_cell(g.title) + "** | |\n";
    for (const auto& o : g.options)
      out += "| `" + escape_cell(o.label) + "` | " + cell_text(o.help) + (o.required ? " (required)" : "") + " |\n";
  }
  return out;
}

std::string commands_table() {
  std::string out = "| command | what it does | details |\n|---|---|---|\n";
  for (const auto& c : commands())
    if (c.name != "help")
      out += cat("| [`diffuser ", c.name, "`](#diffuser-", c.name, ") | ", escape_cell(c.summary), " | ", c.docs,
                 " |\n");
  return out;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to, bool required,
                        const std::string& command) {
  const auto at = text.find(from);
  if (at == std::string::npos) {
    if (required) throw Error(cat("the docs template has no ", from, " for 'diffuser ", command, "'"));
    return text;
  }
  for (auto p = at; p != std::string::npos; p = text.find(from, p + to.size())) text.replace(p, from.size(), to);
  return text;
}

}  // namespace

std::string help_text(const Command& c) {
  std::string out = synopsis(c, "usage: ");
  if (!c.about.empty()) out += "\n" + c.about + (c.about.back() == '\n' ? "" : "\n");
  std::size_t label_width = 0;
  for (const auto& g : c.options)
    for (const auto& o : g.options)
      if (o.label.size() <= kLabelMax) label_width = std::max(label_width, o.label.size());
  const std::size_t column = std::max<std::size_t>(25, 2 + label_width + 2);  // 25: as the hand-made helps
  if (!c.options.empty()) out += "\n";
  for (const auto& g : c.options) {
    if (!g.title.empty()) out += g.title + ":\n";
    for (const auto& o : g.options) {
      std::string help = o.help + (o.required ? " (required)" : "");
      out += "  " + o.label;
      if (o.label.size() <= kLabelMax) {
        out += std::string(column - 2 - o.label.size(), ' ');
      } else {
        out += "\n" + std::string(column, ' ');
      }
      append_wrapped(out, help, column, column);
    }
  }
  if (!c.notes.empty()) out += "\n" + c.notes + (c.notes.back() == '\n' ? "" : "\n");
  return out;
}

std::string overview_text() {
  std::string out = cat("diffuser ", DIFFUSER_VERSION,
                        ": Diffuser attention (multi-hop attention diffusion) on explicit token graphs\n\n"
                        "usage: diffuser COMMAND [OPTIONS]    (diffuser COMMAND --help for details)\n\ncommands:\n");
  for (const auto& c : commands()) {
    std::string name = c.name;
    name.resize(std::max<std::size_t>(name.size(), 10), ' ');
    out += "  " + name + " " + c.summary + "\n";
  }
  out +=
      "\nconventions: edge j -> i means token i attends to token j; arrays are NumPy .npy, (N, H, D) float32.\n"
      "global option: --expensive-checks re-validates every graph built and every .npy output written\n"
      "(docs/RELIABILITY.md). SIGINT, SIGTERM, SIGHUP and SIGPIPE remove this run's temporary files and\n"
      "exit with 128 + the signal number.\n";
  return out;
}

std::string markdown_reference(const std::string& template_text) {
  std::string text = template_text;
  if (text.empty()) {
    text = "# The `diffuser` command line\n\n@commands@\n";
    for (const auto& c : commands())
      if (c.name != "help") text += cat("\n## `diffuser ", c.name, "`\n\n@usage ", c.name, "@\n\n@options ", c.name, "@\n");
  }
  std::string table = commands_table();
  table.pop_back();  // the template's line break follows
  text = replace_all(text, "@commands@", table, false, "");
  for (const auto& c : commands()) {
    if (c.name == "help") continue;
    text = replace_all(text, cat("@usage ", c.name, "@"), "```\n" + synopsis(c, "") + "```", true, c.name);
    table = option_table(c);
    table.pop_back();
    text = replace_all(text, cat("@options ", c.name, "@"), table, true, c.name);
  }
  return text;
}

std::vector<std::string> table_problems(const Command& c) {
  std::vector<std::string> problems;
  for (const auto& line : c.usage) {
    std::istringstream words(line);
    for (std::string w; words >> w;) {
      const auto start = w.find("--");
      if (start == std::string::npos) continue;
      std::string name = w.substr(start + 2);
      name = name.substr(0, name.find_first_of("]|)=,"));
      if (!name.empty() && !find_option(c, name))
        problems.push_back(cat("diffuser ", c.name, ": the synopsis names --", name, ", which the table lacks"));
    }
  }
  std::map<std::string, const Option*> seen;
  for (const auto& g : c.options)
    for (const auto& o : g.options)
      for (const auto& n : option_names(o)) {
        const auto [it, fresh] = seen.emplace(n, &o);
        if (!fresh && (it->second->type != o.type || takes_value(*it->second) != takes_value(o)))
          problems.push_back(cat("diffuser ", c.name, ": --", n, " is declared twice with different types"));
      }
  return problems;
}

}  // namespace diffuser::cli
