// Helpers shared by the graph, attend and demo subcommands: all-or-nothing output files, early
// checks of output paths and options, and the small printing conventions of the CLI.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <diffuser/engine/device.hpp>

#include "cli.hpp"

namespace diffuser::cli {

// Rejects unknown options before any work is done: copies `args`, consumes the shared graph-source
// options (--pattern --graph --n --seed) on the copy and calls finish() there. The real `args`
// keeps them for graph_from_args().
void finish_except_graph_options(const Args& args);

// Throws Error naming `option` and the path when `path` cannot be written: its folder is missing
// or not writable, or the path is a directory. Checked before the work so a run fails early.
void check_output_path(const std::filesystem::path& path, std::string_view option);

// Throws UsageError when two of the given (option, path) pairs name the same file.
void check_distinct_outputs(const std::vector<std::pair<std::string, std::filesystem::path>>& outputs);

// The outputs of one run, all or nothing. Each file is first written under a staging name next to
// its target (stage()); commit() renames them all into place. If the run fails before commit()
// finishes, the destructor removes every staged file and every target this set already replaced.
class OutputSet {
 public:
  OutputSet() = default;
  ~OutputSet();
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;

  // The staging path to write `target` to ("<target>.tmp-<pid>-stage").
  std::filesystem::path stage(const std::filesystem::path& target);
  void commit();

 private:
  struct Entry {
    std::filesystem::path target, staged;
    bool placed = false;
  };
  std::vector<Entry> entries_;
  bool committed_ = false;
};

// --threads T: 0 when absent (TBB's default); UsageError unless 1 <= T <= 4096.
int threads_option(Args& args);
// --backend cpu|cuda, parsed (UsageError naming the value otherwise).
std::optional<Device> backend_option(Args& args);

// 1234567 -> "1,234,567".
std::string group_digits(std::int64_t v);
// The body of a JSON string literal (quotes, backslashes and control characters escaped).
std::string json_escape(std::string_view s);

// Prints "  NAME ........ 12.345 ms" lines with one width for a whole table.
void print_stage(const char* name, double ms);

}  // namespace diffuser::cli
