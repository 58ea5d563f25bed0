// The CLI's small framework: strict option parsing (every option must be consumed, every number
// must parse) and a registry of subcommands that each cmd_<name>.cpp fills at start-up.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace diffuser::cli {

class Args {
 public:
  Args(std::string command, std::vector<std::string> tokens);

  const std::string& command() const { return command_; }
  // Every token as given (consumed or not): what ranks of one job compare to agree on arguments.
  const std::vector<std::string>& tokens() const { return tokens_; }
  // True if --name is present (consumes it). Flags take no value.
  bool flag(std::string_view name);
  // The value of --name VALUE or --name=VALUE (consumes both); nullopt if absent. Throws UsageError
  // if the option is given twice or has no value.
  std::optional<std::string> get(std::string_view name);
  // Every value of a repeatable option, in order.
  std::vector<std::string> get_all(std::string_view name);
  std::string require(std::string_view name);

  std::optional<std::int64_t> get_int(std::string_view name);
  std::int64_t get_int(std::string_view name, std::int64_t fallback);
  std::optional<double> get_double(std::string_view name);
  double get_double(std::string_view name, double fallback);
  // Comma-separated numbers: "0.5,0.3,0.2".
  std::optional<std::vector<double>> get_doubles(std::string_view name);

  // Remaining bare (non-option) tokens, consumed.
  std::vector<std::string> positionals();
  // Throws UsageError naming the first token nobody consumed.
  void finish();

 private:
  std::optional<std::size_t> find(std::string_view name, std::size_t from = 0);
  std::string command_;
  std::vector<std::string> tokens_;
  std::vector<bool> used_;
};

// Strict number parsing (the whole text, no blanks; a finite double); `what` names the option or
// field in the error, which quotes a short escaped excerpt of the text.
std::int64_t parse_int(std::string_view text, std::string_view what);
double parse_double(std::string_view text, std::string_view what);
// "a,b,c" -> {"a", "b", "c"}; UsageError naming `what` for an empty item ("0.5," or "1,,2").
std::vector<std::string_view> split_list(std::string_view text, std::string_view what);

struct Command {
  std::string name;
  std::string summary;  // one line for `diffuser --help`
  std::string help;     // full text for `diffuser NAME --help`
  int (*run)(Args& args) = nullptr;
  int order = 100;  // position in `diffuser --help`
};

// Registers a command at static-initialisation time: `static cli::Registrar reg({...});`
struct Registrar {
  explicit Registrar(Command c);
};

const std::vector<Command>& commands();

}  // namespace diffuser::cli
