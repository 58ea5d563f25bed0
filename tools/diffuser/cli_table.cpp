// The checks that come from a command's option table (cli.hpp): which options exist, which take a
// value, their types and bounds. They run before the command, so a bad command line fails at once
// and in the same words for every command.
#include <map>
#include <sstream>

#include <diffuser/engine/error.hpp>

#include "cli.hpp"

namespace diffuser::cli {

namespace {

bool is_option_token(std::string_view t) {
  return t.size() > 2 && t[0] == '-' && t[1] == '-';
}

// The words of a label without the brackets and bars of a synopsis: "[--n N]" -> "--n", "N".
std::vector<std::string> label_words(const std::string& label) {
  std::vector<std::string> words;
  std::istringstream in(label);
  for (std::string w; in >> w;) {
    while (!w.empty() && (w.front() == '[' || w.front() == '(')) w.erase(w.begin());
    while (!w.empty() && (w.back() == ']' || w.back() == ')')) w.pop_back();
    if (!w.empty()) words.push_back(w);
  }
  return words;
}

std::string bound_text(double v, Option::Type type) {
  if (type == Option::Type::integer) return cat(static_cast<std::int64_t>(v));
  return cat(v);
}

void check_bounds(const Option& o, const std::string& name, double v, const std::string& shown) {
  const bool low = o.min && (o.open_min ? !(v > *o.min) : !(v >= *o.min));
  const bool high = o.max && (o.open_max ? !(v < *o.max) : !(v <= *o.max));
  if (!low && !high) return;
  if (o.min && o.max)
    throw UsageError(cat("--", name, " must be in ", o.open_min ? "(" : "[", bound_text(*o.min, o.type), ", ",
                         bound_text(*o.max, o.type), o.open_max ? ")" : "]", ", got ", shown));
  if (o.min) throw UsageError(cat("--", name, " must be ", o.open_min ? "> " : ">= ", bound_text(*o.min, o.type),
                                  ", got ", shown));
  throw UsageError(cat("--", name, " must be ", o.open_max ? "< " : "<= ", bound_text(*o.max, o.type), ", got ", shown));
}

void check_value(const Option& o, const std::string& name, const std::string& value) {
  const std::string what = cat("--", name);
  switch (o.type) {
    case Option::Type::text:
      return;
    case Option::Type::integer: {
      const std::int64_t v = parse_int(value, what);
      return check_bounds(o, name, static_cast<double>(v), cat(v));
    }
    case Option::Type::number: {
      const double v = parse_double(value, what);
      return check_bounds(o, name, v, cat(v));
    }
    case Option::Type::numbers: {
      if (value.empty()) throw UsageError(cat(what, " needs at least one number"));
      std::size_t i = 0;
      for (const auto item : split_list(value, what)) parse_double(item, cat(what, " item ", i++));
      return;
    }
  }
}

}  // namespace

std::vector<std::string> option_names(const Option& o) {
  std::vector<std::string> names;
  for (const auto& w : label_words(o.label))
    if (is_option_token(w)) names.push_back(w.substr(2));
  return names;
}

bool takes_value(const Option& o) {
  for (const auto& w : label_words(o.label))
    if (!is_option_token(w)) return true;
  return false;
}

const Option* find_option(const Command& c, std::string_view name) {
  for (const auto& g : c.options)
    for (const auto& o : g.options)
      for (const auto& n : option_names(o))
        if (n == name) return &o;
  return nullptr;
}

void check_against_table(const Command& c, const std::vector<std::string>& tokens) {
  std::map<std::string, int> seen;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (!is_option_token(t)) throw UsageError(cat("unexpected argument '", excerpt(t), "' for 'diffuser ", c.name, "'"));
    const auto eq = t.find('=');
    const std::string name = t.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const Option* o = find_option(c, name);
    if (!o) throw UsageError(unknown_option_message(t, c.name));
    ++seen[name];
    if (!takes_value(*o)) {
      if (eq != std::string::npos) throw UsageError(cat("--", name, " is a flag and takes no value"));
      continue;
    }
    std::string value;
    if (eq != std::string::npos) {
      value = t.substr(eq + 1);
    } else {
      if (i + 1 >= tokens.size() || is_option_token(tokens[i + 1])) throw UsageError(cat("--", name, " needs a value"));
      value = tokens[++i];
    }
    if (!o->repeatable && seen[name] > 1) throw UsageError(cat("--", name, " is given more than once"));
    check_value(*o, name, value);
  }
  for (const auto& g : c.options)
    for (const auto& o : g.options)
      if (o.required)
        for (const auto& n : option_names(o))
          if (!seen.count(n)) throw UsageError(cat("missing required option --", n));
}

}  // namespace diffuser::cli
