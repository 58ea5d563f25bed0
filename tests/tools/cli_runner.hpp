// Runs the built `diffuser` binary for the CLI tests: a fresh temporary folder per test, the
// command's stdout, stderr and exit status captured, and helpers to craft (bad) .npy files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace diffuser::test::cli {

struct RunResult {
  int exit_code = -1;  // valid when !signaled
  bool signaled = false;
  int signal = 0;
  bool timed_out = false;
  std::string out, err;
  // Lines of stderr (a trailing newline ends the last one).
  std::size_t err_lines() const;
};

// A fresh folder under the system temp dir, removed with everything in it at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  // File names directly inside the folder.
  std::set<std::string> listing() const;

 private:
  std::filesystem::path path_;
};

// Runs `diffuser ARGS...` with `cwd` as its working folder (posix_spawn, no shell), waiting at most
// `timeout_s` seconds (then the child is killed and timed_out is set).
RunResult run_cli(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                  int timeout_s = 120);

// The same with more control: `env` adds NAME=VALUE entries to the environment, `prefix` runs the
// program through another (e.g. {"prlimit", "--fsize=4096"}), and `while_running` is called every
// few milliseconds with the child's pid until it ends (to send it a signal at the right moment).
struct RunOptions {
  int timeout_s = 120;
  std::vector<std::string> env;
  std::vector<std::string> prefix;
  std::function<void(int pid)> while_running;
};
RunResult run_cli(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                  const RunOptions& options);
// Only a timeout and NAME=VALUE entries added to the environment.
RunResult run_cli(const std::vector<std::string>& args, const std::filesystem::path& cwd, int timeout_s,
                  const std::vector<std::string>& env);

// Writes raw bytes.
void write_file(const std::filesystem::path& p, const std::string& bytes);
std::string read_file(const std::filesystem::path& p);
// A version-1 .npy header (padded to 64 bytes) for the given dict text.
std::string npy_header(const std::string& dict);
// A complete .npy file with header {'descr': DESCR, 'fortran_order': FORTRAN, 'shape': SHAPE} and
// `data_bytes` bytes of data (zeros).
std::string npy_file(const std::string& descr, const std::string& shape, std::size_t data_bytes,
                     bool fortran = false);

}  // namespace diffuser::test::cli
