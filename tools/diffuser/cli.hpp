// The CLI's small framework: strict option parsing (every option must be consumed, every number
// must parse) and a registry of subcommands that each cmd_<name>.cpp fills at start-up.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace diffuser::cli {

struct Command;

class Args {
 public:
  // With `table`, every option the command reads must be declared in it (a logic error otherwise).
  Args(std::string command, std::vector<std::string> tokens, const Command* table = nullptr);

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
  const Command* table_ = nullptr;
  std::vector<std::string> tokens_;
  std::vector<bool> used_;
};

// Strict number parsing (the whole text, no blanks; a finite double); `what` names the option or
// field in the error, which quotes a short escaped excerpt of the text.
std::int64_t parse_int(std::string_view text, std::string_view what);
double parse_double(std::string_view text, std::string_view what);
// "a,b,c" -> {"a", "b", "c"}; UsageError naming `what` for an empty item ("0.5," or "1,,2").
std::vector<std::string_view> split_list(std::string_view text, std::string_view what);

// One option of a command's table. `label` is what --help shows, e.g. "--hops K",
// "--q Q.npy --k K.npy --v V.npy" or "--json": every "--word" in it is an accepted option name,
// and a label with no placeholder word declares flags. `type` and the bounds apply to every name
// of the label; main() checks them before the command runs, with the messages of docs/CLI.md.
struct Option {
  enum class Type { text, integer, number, numbers };  // numbers: "0.5,0.3,0.2"
  std::string label;
  std::string help;  // one paragraph, wrapped by --help; '\n' forces a line break
  Type type = Type::text;
  std::optional<double> min, max;  // inclusive, unless the open_* flag is set
  bool open_min = false, open_max = false;
  bool required = false;
  bool repeatable = false;
};

struct OptionGroup {
  std::string title;  // "graph (one of)", "outputs", ...
  std::vector<Option> options;
};

// The one definition of a command line: the accepted options and their types (Args and main()
// check them), `diffuser NAME --help`, the command list of `diffuser --help`, and the synopsis and
// option table of docs/CLI.md (`diffuser help --markdown`).
struct Command {
  std::string name;
  std::string summary;             // one line for `diffuser --help` and the table of docs/CLI.md
  std::vector<std::string> usage;  // the synopsis, one string a line, each after "diffuser NAME "
  std::string about;               // --help: the paragraphs after the synopsis
  std::vector<OptionGroup> options;
  std::string notes;               // --help: the text after the options (examples, exit status)
  std::string docs;                // docs/CLI.md: further reading, e.g. "[GPU.md](GPU.md)"
  int (*run)(Args& args) = nullptr;
  int order = 100;  // position in `diffuser --help`
};

// The option names a label declares ("--graph FILE [--n N]" -> graph, n) and whether they take a
// value (false for flags).
std::vector<std::string> option_names(const Option& o);
bool takes_value(const Option& o);
// The option called `name` in the command's table, or nullptr.
const Option* find_option(const Command& c, std::string_view name);
// Checks `tokens` against the table before the command runs: unknown options, a flag given a value,
// a value option without one, a number that does not parse or is out of bounds, a required option
// missing, a single-valued option given twice. Throws UsageError in the words of docs/CLI.md.
void check_against_table(const Command& c, const std::vector<std::string>& tokens);
// "unknown option --x for 'diffuser NAME' (see diffuser NAME --help)".
std::string unknown_option_message(const std::string& token, const std::string& command);

// Registers a command at static-initialisation time: `static cli::Registrar reg({...});`
struct Registrar {
  explicit Registrar(Command c);
};

const std::vector<Command>& commands();

}  // namespace diffuser::cli
