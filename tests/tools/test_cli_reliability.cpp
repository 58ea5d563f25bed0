// The CLI under hostile conditions (issue 14): signals leave no temporary file or folder and exit
// with 128 + signal; misbehaving plugins end with one line; outputs that alias inputs, impossible
// sizes and bad input bytes are refused at once with a short, printable, one-line message.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <fstream>
#include <limits>
#include <thread>

#include <diffuser/engine/npy.hpp>

#include "tools/cli_reference.hpp"
#include "tools/cli_runner.hpp"

using namespace diffuser;
using namespace diffuser::test::cli;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

// Fails unless the run ended by itself with `code` and one line on stderr.
void require_exit(const RunResult& r, int code) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE_FALSE(r.signaled);
  REQUIRE_FALSE(r.timed_out);
  REQUIRE(r.exit_code == code);
  REQUIRE(r.err_lines() == 1);
}

bool no_temporary_files(const TempDir& dir) {
  for (const auto& name : dir.listing())
    if (name.find(".tmp-") != std::string::npos) return false;
  return true;
}

}  // namespace

TEST_CASE("a signal removes this run's temporary files and exits with 128 + signal", "[cpu][tools]") {
  const std::pair<const char*, int> cases[] = {
      {"INT", SIGINT}, {"TERM", SIGTERM}, {"HUP", SIGHUP}, {"PIPE", SIGPIPE}};
  for (const auto& [name, sig] : cases) {
    INFO(name);
    TempDir dir;
    RunOptions o;
    o.env = {std::string("DIFFUSER_TEST_SIGNAL_ON_TEMP=") +
             name};  // raised once the output's temp file exists
    const RunResult r =
        run_cli({"graph", "--pattern", "window:2", "--n", "1000", "--out", "g.dot"}, dir.path(), o);
    INFO("stderr: " << r.err);
    REQUIRE_FALSE(r.signaled);
    CHECK(r.exit_code == 128 + sig);
    CHECK(dir.listing().empty());
    if (sig != SIGPIPE) CHECK_THAT(r.err, Contains("interrupted by SIG") && Contains("removed 1 temporary"));
  }
}

TEST_CASE("a signal during attend removes staged outputs and the --grads-dir folder it created",
          "[cpu][tools]") {
  TempDir dir;
  const Problem p = random_problem(16, 2, 4, 3);
  write_problem(p, dir.path());
  npy::save(dir / "dz.npy", p.v.data(), {p.n, p.h, p.d});
  const auto before = dir.listing();
  RunOptions o;
  o.env = {"DIFFUSER_TEST_SIGNAL_ON_TEMP=TERM"};
  const RunResult r =
      run_cli({"attend", "--graph", "g.txt", "--q", "q.npy", "--k", "k.npy", "--v", "v.npy", "--out", "z.npy",
               "--weights-out", "w.npy", "--grad-out", "dz.npy", "--grads-dir", "grads"},
              dir.path(), o);
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 128 + SIGTERM);
  CHECK(dir.listing() == before);  // no z.npy, no w.npy, no grads/, no temporary file
}

TEST_CASE("SIGTERM while a plugin hangs: the folder goes, the plugin's process goes, exit 143",
          "[cpu][tools]") {
  TempDir dir;
  const Problem p = random_problem(16, 2, 4, 3);
  write_problem(p, dir.path());
  npy::save(dir / "dz.npy", p.v.data(), {p.n, p.h, p.d});
  const auto before = dir.listing();
  const fs::path pid_file = dir / "plugin.pid";
  bool sent = false;
  RunOptions o;
  o.timeout_s = 60;
  o.while_running = [&](int pid) {
    if (!sent && fs::exists(pid_file) && fs::exists(dir / "grads")) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      ::kill(pid, SIGTERM);
      sent = true;
    }
  };
  const RunResult r = run_cli(
      {"attend", "--pattern", std::string("plugin:") + DIFFUSER_TEST_PLUGIN_HANGS + ":" + pid_file.string(),
       "--n", "16", "--q", "q.npy", "--k", "k.npy", "--v", "v.npy", "--out", "z.npy", "--grad-out", "dz.npy",
       "--grads-dir", "grads"},
      dir.path(), o);
  INFO("stderr: " << r.err);
  REQUIRE(sent);
  CHECK(r.exit_code == 128 + SIGTERM);
  std::ifstream in(pid_file);
  int plugin_pid = 0;
  in >> plugin_pid;
  REQUIRE(plugin_pid > 0);
  // The plugin's process dies with diffuser (PR_SET_PDEATHSIG); give the kernel a moment.
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = ::kill(plugin_pid, 0) != 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(gone);
  fs::remove(pid_file);
  CHECK(dir.listing() == before);
}

TEST_CASE("a crashing, aborting or exiting plugin ends the command with one line naming it, exit 1",
          "[cpu][tools]") {
  TempDir dir;
  for (const std::string lib :
       {DIFFUSER_TEST_PLUGIN_CRASHES, DIFFUSER_TEST_PLUGIN_ABORTS, DIFFUSER_TEST_PLUGIN_EXITS,
        DIFFUSER_TEST_PLUGIN_CTOR_CRASH, DIFFUSER_TEST_PLUGIN_OVERREAD}) {
    INFO(lib);
    const RunResult r =
        run_cli({"graph", "--pattern", "plugin:" + lib, "--n", "10", "--out", "g.txt"}, dir.path());
    require_exit(r, 1);
    CHECK_THAT(r.err, Contains("plugin " + lib));
    CHECK(dir.listing().empty());
  }
}

TEST_CASE("outputs that name an input are refused before any work", "[cpu][tools]") {
  TempDir dir;
  const Problem p = random_problem(16, 2, 4, 5);
  write_problem(p, dir.path());
  const std::string q_before = read_file(dir / "q.npy");
  RunResult r = run_cli(
      {"attend", "--graph", "g.txt", "--q", "q.npy", "--k", "k.npy", "--v", "v.npy", "--out", "q.npy"},
      dir.path());
  require_exit(r, 2);
  CHECK_THAT(r.err, Contains("--out q.npy is the input of --q"));
  CHECK(read_file(dir / "q.npy") == q_before);
  // Through another spelling of the path, and through a hard link.
  REQUIRE(::link((dir / "k.npy").c_str(), (dir / "k2.npy").c_str()) == 0);
  r = run_cli({"attend", "--graph", "g.txt", "--q", "q.npy", "--k", "k.npy", "--v", "v.npy", "--out", "z.npy",
               "--weights-out", "./k2.npy"},
              dir.path());
  require_exit(r, 2);
  CHECK_THAT(r.err, Contains("--weights-out ./k2.npy is the input of --k"));
  r = run_cli({"graph", "--graph", "g.txt", "--out", "g.txt"}, dir.path());
  require_exit(r, 2);
  CHECK_THAT(r.err, Contains("--out g.txt is the input of --graph"));

  write_file(dir / "c.json", R"({"hidden_size": 8, "num_attention_heads": 2, "intermediate_size": 16})");
  r = run_cli({"layer", "--config", "c.json", "--init-weights", "w.safetensors"}, dir.path());
  REQUIRE(r.exit_code == 0);
  npy::save(dir / "x.npy", p.q.data(), {16, 8});
  r = run_cli({"layer", "--config", "c.json", "--weights", "w.safetensors", "--x", "x.npy", "--out", "y.npy",
               "--grad-out", "x.npy", "--grads-out", "w.safetensors"},
              dir.path());
  require_exit(r, 2);
  CHECK_THAT(r.err, Contains("--grads-out w.safetensors is the input of --weights"));
  CHECK_FALSE(fs::exists(dir / "y.npy"));
}

TEST_CASE("impossible sizes are refused at once with exit 1, naming the input and the size", "[cpu][tools]") {
  TempDir dir;
  const auto quick = [&](const std::vector<std::string>& args, const std::string& what) {
    INFO(args[0] << " " << args[1] << " " << args[2]);
    const auto t0 = std::chrono::steady_clock::now();
    const RunResult r = run_cli(args, dir.path(), 60);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    require_exit(r, 1);
    CHECK_THAT(r.err, Contains("not enough memory") && Contains(what));
    CHECK(s < 5.0);
  };
  write_file(dir / "big.txt", "0 2147483646\n");  // 13 bytes naming node 2^31 - 2
  quick({"graph", "--graph", "big.txt"}, "big.txt: a graph of 2147483647 nodes");
  write_file(dir / "big.mtx",
             "%%MatrixMarket matrix coordinate pattern general\n2147483647 2147483647 1\n1 1\n");
  quick({"graph", "--graph", "big.mtx"}, "big.mtx:2: the size line's 2147483647 x 2147483647 matrix");
  quick({"graph", "--pattern", "window:1", "--n", "2147483647"}, "pattern 'window:1' over 2147483647 tokens");
  write_file(dir / "c.json",
             R"({"hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 268435456})");
  quick({"layer", "--config", "c.json", "--init-weights", "w.safetensors"},
        "c.json: hidden_size 64, intermediate_size 268435456");
  write_file(dir / "small.json",
             R"({"hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 256})");
  quick({"layer", "--config", "small.json", "--bench", "--n", "2147483647"},
        "activations of 2147483647 tokens");
}

TEST_CASE("bad bytes reach messages as short escaped excerpts, always with the file and key",
          "[cpu][tools]") {
  TempDir dir;
  // Control bytes and an escape sequence in a pattern expression stay off the terminal.
  RunResult r = run_cli({"graph", "--pattern", "win\x1b[31mdow:2\x07", "--n", "8"}, dir.path());
  require_exit(r, 2);
  CHECK_THAT(r.err, Contains("win\\x1b[31mdow:2\\x07"));
  CHECK(r.err.find('\x1b') == std::string::npos);
  // A 1 MB token is cut short.
  write_file(dir / "long.txt", "0 " + std::string(1 << 20, '7') + "x\n");
  r = run_cli({"graph", "--graph", "long.txt"}, dir.path());
  require_exit(r, 1);
  CHECK_THAT(r.err, Contains("long.txt:1:") && Contains("(1048577 bytes)"));
  CHECK(r.err.size() < 300);
  // A JSON number beyond a double names the file, the line and the key.
  write_file(dir / "c.json", "{\n  \"hidden_size\": 64,\n  \"layer_norm_eps\": 1e309\n}\n");
  r = run_cli({"layer", "--config", "c.json", "--init-weights", "w.safetensors"}, dir.path());
  require_exit(r, 1);
  CHECK_THAT(r.err, Contains("c.json:3:") && Contains("1e309") && Contains("overflows a double") &&
                        Contains("\"layer_norm_eps\""));
  CHECK(r.err.find("json.exception") == std::string::npos);
  // A repeated key is refused, not "last one wins".
  write_file(dir / "dup.json", R"({"hidden_size": 64, "num_attention_heads": 4, "hidden_size": 128})");
  r = run_cli({"layer", "--config", "dup.json", "--init-weights", "w.safetensors"}, dir.path());
  require_exit(r, 1);
  CHECK_THAT(r.err, Contains("dup.json") && Contains("the key \"hidden_size\" appears twice"));
  // Options are named once, with their two dashes.
  r = run_cli({"bench", "--sizes", "64", "--json", "no/such/folder/b.json"}, dir.path());
  require_exit(r, 1);
  CHECK_THAT(r.err, Contains(" --json no/such/folder/b.json"));
  CHECK(r.err.find("----json") == std::string::npos);
}

TEST_CASE("numeric options: a trailing comma and other malformed lists are refused", "[cpu][tools]") {
  TempDir dir;
  const Problem p = random_problem(16, 2, 4, 5);
  write_problem(p, dir.path());
  for (const char* theta : {"0.5,", ",0.5", "0.5,,0.5", " 0.5", "0x1p-1", "nan", "1e999"}) {
    INFO(theta);
    const RunResult r = run_cli({"attend", "--graph", "g.txt", "--q", "q.npy", "--k", "k.npy", "--v", "v.npy",
                                 "--out", "z.npy", "--theta", theta},
                                dir.path());
    require_exit(r, 2);
    CHECK_THAT(r.err, Contains("--theta"));
    CHECK_FALSE(fs::exists(dir / "z.npy"));
  }
}

TEST_CASE("a failed write names --out and the target, never the temporary file", "[cpu][tools]") {
  TempDir dir;
  const Problem p = random_problem(64, 2, 8, 5);
  write_problem(p, dir.path());
  std::signal(SIGXFSZ, SIG_IGN);  // inherited: the write fails with EFBIG instead of killing the run
  RunOptions o;
  o.prefix = {"prlimit", "--fsize=2048"};
  const RunResult r = run_cli(
      {"attend", "--graph", "g.txt", "--q", "q.npy", "--k", "k.npy", "--v", "v.npy", "--out", "z.npy"},
      dir.path(), o);
  std::signal(SIGXFSZ, SIG_DFL);
  require_exit(r, 1);
  CHECK_THAT(r.err, Contains("--out z.npy: write failed"));
  CHECK(r.err.find(".tmp-") == std::string::npos);
  CHECK(no_temporary_files(dir));
  CHECK_FALSE(fs::exists(dir / "z.npy"));
}

TEST_CASE("non-finite results are reported with the stage that produced them", "[cpu][tools]") {
  TempDir dir;
  Problem p = random_problem(16, 2, 4, 7);
  for (auto& x : p.q) x = 3e38f;  // finite inputs whose scores overflow float32
  write_problem(p, dir.path());
  RunResult r = run_cli(
      {"attend", "--graph", "g.txt", "--q", "q.npy", "--k", "q.npy", "--v", "v.npy", "--out", "z.npy"},
      dir.path());
  require_exit(r, 1);
  CHECK_THAT(r.err, Contains("stage 'weights'") && Contains("overflow"));
  CHECK_FALSE(fs::exists(dir / "z.npy"));

  p = random_problem(16, 2, 4, 7);
  for (auto& x : p.v) x = 3e38f;  // sums of several such values overflow in the hops
  write_problem(p, dir.path());
  r = run_cli({"attend", "--graph", "g.txt", "--q", "q.npy", "--k", "k.npy", "--v", "v.npy", "--out", "z.npy",
               "--theta", "1,1,1"},
              dir.path());
  require_exit(r, 1);
  CHECK_THAT(r.err, Contains("stage 'diffusion'"));
  CHECK_FALSE(fs::exists(dir / "z.npy"));
}

TEST_CASE("the global option --expensive-checks is accepted and changes no result", "[cpu][tools]") {
  TempDir dir;
  const Problem p = random_problem(32, 2, 4, 9);
  write_problem(p, dir.path());
  RunResult r = run_cli(
      {"attend", "--graph", "g.txt", "--q", "q.npy", "--k", "k.npy", "--v", "v.npy", "--out", "z1.npy"},
      dir.path());
  REQUIRE(r.exit_code == 0);
  r = run_cli({"attend", "--expensive-checks", "--graph", "g.txt", "--q", "q.npy", "--k", "k.npy", "--v",
               "v.npy", "--out", "z2.npy"},
              dir.path());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_file(dir / "z1.npy") == read_file(dir / "z2.npy"));
  r = run_cli({"graph", "--pattern", "diffuser", "--n", "300", "--out", "g.npy", "--expensive-checks"},
              dir.path());
  CHECK(r.exit_code == 0);
}
