// Helpers shared by the graph, attend and demo subcommands: all-or-nothing output files, early
// checks of output paths and options, and the small printing conventions of the CLI.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <diffuser/engine/device.hpp>

#include "cli.hpp"

namespace diffuser::cli {

// --expensive-checks (any command; main.cpp reads it): checks that cost a pass over the data and
// guard against diffuser's own bugs rather than bad input, as cuGraph's do_expensive_check: every
// graph's CSR invariants after it is built, every .npy output read back before it is moved into
// place. Off by default; what is always checked is listed in docs/RELIABILITY.md.
bool expensive_checks();
void set_expensive_checks(bool on);

// Rejects unknown options before any work is done: copies `args`, consumes the shared graph-source
// options (--pattern --graph --n --seed) on the copy and calls finish() there. The real `args`
// keeps them for graph_from_args().
void finish_except_graph_options(const Args& args);

// Throws Error naming `option` and the path when `path` cannot be written: its folder is missing
// or not writable, or the path exists and is not a regular file (a directory, a device, a FIFO).
// Checked before the work so a run fails early.
void check_output_path(const std::filesystem::path& path, std::string_view option);

// Throws UsageError when two of the given (option, path) pairs name the same file (the same path,
// or one file through a hard or symbolic link).
void check_distinct_outputs(const std::vector<std::pair<std::string, std::filesystem::path>>& outputs);

// Throws UsageError when an output names the same file as an input (`attend --q x --out x`):
// the run would destroy the data it reads. Called before any work.
void check_outputs_not_inputs(const std::vector<std::pair<std::string, std::filesystem::path>>& inputs,
                              const std::vector<std::pair<std::string, std::filesystem::path>>& outputs);

// The outputs of one run, all or nothing. Each file is first written to a staging file next to
// its target (created exclusively under an unpredictable name, and announced so that a signal
// removes it); commit() renames them all into place. If the run fails before commit() finishes,
// the destructor removes every staged file and every target this set already replaced.
class OutputSet {
 public:
  OutputSet() = default;
  ~OutputSet();
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;

  // Stages `target` (given as --`option`): `write` receives the staging path and writes the whole
  // file there. An error that names the staging path is rethrown naming --option and the target.
  void write(const std::filesystem::path& target, std::string_view option,
             const std::function<void(const std::filesystem::path&)>& write);
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

// Runs a command body and keeps every error message on one line: line breaks inside a message
// (an npy header's padding, a parser's multi-line report) become single spaces, trailing blanks go.
// Errors keep their type, so main() still maps UsageError to exit 2 and Error to exit 1.
int with_one_line_errors(Args& args, int (*body)(Args&));
using diffuser::join_lines;  // engine/error.hpp
using diffuser::one_line;

// Prints the one-line memory budget of a forward (graph + weights + node buffers, + `extra` bytes)
// and throws Error when it exceeds the memory available; returns the total in bytes.
std::int64_t check_budget(const char* job, std::int64_t n, std::int64_t edges, std::int64_t heads,
                          std::int64_t dim, int node_buffers, std::int64_t extra = 0);

// Before a graph is built: throws Error unless `buffers` (N, H, D) float arrays and the graph's row
// offsets fit in the memory available (computed without overflow for any N, H, D).
void require_node_memory(const char* job, std::int64_t n, std::int64_t heads, std::int64_t dim, int buffers);

// 1234567 -> "1,234,567".
std::string group_digits(std::int64_t v);

// Prints "  NAME ........ 12.345 ms" lines with one width for a whole table.
void print_stage(const char* name, double ms);

}  // namespace diffuser::cli
