#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <stdexcept>

#include <diffuser/engine/error.hpp>

#include "cli.hpp"

namespace diffuser::cli {

namespace {

std::vector<Command>& registry() {
  static std::vector<Command> r;
  return r;
}

// "-5" and "-0.5" are values, not options.
bool looks_like_option(const std::string& t) {
  return t.size() > 2 && t[0] == '-' && t[1] == '-';
}

}  // namespace

Args::Args(std::string command, std::vector<std::string> tokens, const Command* table)
    : command_(std::move(command)), table_(table), tokens_(std::move(tokens)), used_(tokens_.size(), false) {}

std::optional<std::size_t> Args::find(std::string_view name, std::size_t from) {
  // Reading an option the table does not declare is a bug of the command, not of its user.
  if (table_ && !find_option(*table_, name))
    throw std::logic_error(cat("'diffuser ", command_, "' reads --", name, ", which its option table does not declare"));
  const std::string opt = "--" + std::string(name);
  for (std::size_t i = from; i < tokens_.size(); ++i) {
    if (used_[i]) continue;
    const std::string& t = tokens_[i];
    if (t == opt || (t.size() > opt.size() && t.compare(0, opt.size(), opt) == 0 && t[opt.size()] == '='))
      return i;
  }
  return std::nullopt;
}

bool Args::flag(std::string_view name) {
  auto i = find(name);
  if (!i) return false;
  if (tokens_[*i].find('=') != std::string::npos)
    throw UsageError(cat("--", name, " is a flag and takes no value"));
  used_[*i] = true;
  while (auto again = find(name)) used_[*again] = true;  // repeating a flag is harmless
  return true;
}

std::vector<std::string> Args::get_all(std::string_view name) {
  std::vector<std::string> values;
  std::size_t from = 0;
  while (auto i = find(name, from)) {
    const std::string& t = tokens_[*i];
    used_[*i] = true;
    const auto eq = t.find('=');
    if (eq != std::string::npos) {
      values.push_back(t.substr(eq + 1));
    } else {
      if (*i + 1 >= tokens_.size() || used_[*i + 1] || looks_like_option(tokens_[*i + 1]))
        throw UsageError(cat("--", name, " needs a value"));
      used_[*i + 1] = true;
      values.push_back(tokens_[*i + 1]);
    }
    from = *i + 1;
  }
  return values;
}

std::optional<std::string> Args::get(std::string_view name) {
  auto values = get_all(name);
  if (values.empty()) return std::nullopt;
  if (values.size() > 1) throw UsageError(cat("--", name, " is given more than once"));
  return values.front();
}

std::string Args::require(std::string_view name) {
  auto v = get(name);
  if (!v) throw UsageError(cat("missing required option --", name));
  return *v;
}

std::int64_t parse_int(std::string_view text, std::string_view what) {
  std::int64_t v = 0;
  const char* first = text.data();
  const char* last = first + text.size();
  auto [p, ec] = std::from_chars(first, last, v);
  if (!text.empty() && ec == std::errc::result_out_of_range && p == last)
    throw UsageError(cat(what, ": '", excerpt(text), "' is out of range (at most 9223372036854775807)"));
  if (text.empty() || ec != std::errc() || p != last)
    throw UsageError(cat(what, ": '", excerpt(text), "' is not an integer"));
  return v;
}

double parse_double(std::string_view text, std::string_view what) {
  std::string_view digits = text;
  if (digits.size() > 1 && digits[0] == '+' && digits[1] != '-' && digits[1] != '+') digits.remove_prefix(1);
  double v = 0;
  const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() || !std::isfinite(v))
    throw UsageError(cat(what, ": '", excerpt(text), "' is not a finite number"));
  return v;
}

std::vector<std::string_view> split_list(std::string_view text, std::string_view what) {
  std::vector<std::string_view> items;
  std::size_t start = 0;
  while (true) {
    const auto comma = text.find(',', start);
    const auto item =
        text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item.empty())
      throw UsageError(cat(what, " '", excerpt(text), "': item ", items.size() + 1,
                           " is empty (a comma at an end, or two in a row)"));
    items.push_back(item);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return items;
}

std::optional<std::int64_t> Args::get_int(std::string_view name) {
  auto v = get(name);
  if (!v) return std::nullopt;
  return parse_int(*v, cat("--", name));
}

std::int64_t Args::get_int(std::string_view name, std::int64_t fallback) {
  return get_int(name).value_or(fallback);
}

std::optional<double> Args::get_double(std::string_view name) {
  auto v = get(name);
  if (!v) return std::nullopt;
  return parse_double(*v, cat("--", name));
}

double Args::get_double(std::string_view name, double fallback) {
  return get_double(name).value_or(fallback);
}

std::optional<std::vector<double>> Args::get_doubles(std::string_view name) {
  auto v = get(name);
  if (!v) return std::nullopt;
  if (v->empty()) throw UsageError(cat("--", name, " needs at least one number"));
  std::vector<double> out;
  for (const auto item : split_list(*v, cat("--", name)))
    out.push_back(parse_double(item, cat("--", name, " item ", out.size())));
  return out;
}

std::vector<std::string> Args::positionals() {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < tokens_.size(); ++i)
    if (!used_[i] && !looks_like_option(tokens_[i])) {
      used_[i] = true;
      out.push_back(tokens_[i]);
    }
  return out;
}

std::string unknown_option_message(const std::string& token, const std::string& command) {
  return cat("unknown option ", excerpt(token.substr(0, token.find('='))), " for 'diffuser ", command,
             "' (see diffuser ", command, " --help)");
}

void Args::finish() {
  for (std::size_t i = 0; i < tokens_.size(); ++i)
    if (!used_[i])
      throw UsageError(
          looks_like_option(tokens_[i])
              ? unknown_option_message(tokens_[i], command_)
              : cat("unexpected argument '", excerpt(tokens_[i]), "' for 'diffuser ", command_, "'"));
}

Registrar::Registrar(Command c) {
  registry().push_back(std::move(c));
  std::stable_sort(registry().begin(), registry().end(),
                   [](const Command& a, const Command& b) { return a.order < b.order; });
}

const std::vector<Command>& commands() {
  return registry();
}

}  // namespace diffuser::cli
