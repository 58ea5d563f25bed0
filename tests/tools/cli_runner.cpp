#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/cli_runner.hpp"

extern char** environ;

namespace diffuser::test::cli {

namespace fs = std::filesystem;

std::size_t RunResult::err_lines() const {
  std::size_t lines = 0;
  for (char c : err) lines += c == '\n';
  if (!err.empty() && err.back() != '\n') ++lines;
  return lines;
}

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "diffuser_cli_XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::set<std::string> TempDir::listing() const {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(path_)) names.insert(e.path().filename().string());
  return names;
}

RunResult run_cli(const std::vector<std::string>& args, const fs::path& cwd, int timeout_s) {
  RunOptions o;
  o.timeout_s = timeout_s;
  return run_cli(args, cwd, o);
}

RunResult run_cli(const std::vector<std::string>& args, const fs::path& cwd, int timeout_s,
                  const std::vector<std::string>& env) {
  RunOptions o;
  o.timeout_s = timeout_s;
  o.env = env;
  return run_cli(args, cwd, o);
}

RunResult run_cli(const std::vector<std::string>& args, const fs::path& cwd, const RunOptions& options) {
  const int timeout_s = options.timeout_s;
  TempDir capture;  // outside cwd, so the captured streams never show up in the tested folder
  const std::string out_path = (capture.path() / "stdout").string(),
                    err_path = (capture.path() / "stderr").string();
  std::vector<std::string> argv_s = options.prefix;
  argv_s.push_back(DIFFUSER_CLI);
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) env_s.emplace_back(*e);
  env_s.insert(env_s.end(), options.env.begin(), options.env.end());
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  pid_t pid = 0;
  const int rc = options.prefix.empty() ? posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data())
                                        : posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  RunResult r;
  if (rc != 0) {
    r.err = "posix_spawn failed for " + argv_s[0];
    return r;
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (true) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (options.while_running) options.while_running(pid);
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signaled = true;
    r.signal = WTERMSIG(status);
  }
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  return r;
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string npy_header(const std::string& dict) {
  std::string d = dict;
  while ((10 + d.size() + 1) % 64 != 0) d += ' ';
  d += '\n';
  std::string h("\x93NUMPY\x01\x00", 8);
  h.push_back(static_cast<char>(d.size() & 0xff));
  h.push_back(static_cast<char>(d.size() >> 8));
  return h + d;
}

std::string npy_file(const std::string& descr, const std::string& shape, std::size_t data_bytes,
                     bool fortran) {
  return npy_header("{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                    ", 'shape': " + shape + ", }") +
         std::string(data_bytes, '\0');
}

}  // namespace diffuser::test::cli
