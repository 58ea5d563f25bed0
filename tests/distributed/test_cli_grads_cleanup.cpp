// `mpirun -np 2 diffuser attend --distributed ... --grad-out dZ --grads-dir DIR` that fails or is
// interrupted leaves nothing behind: no DIR (rank 0 creates it, as one process does), no output, no
// temporary file, whether the error is rank 0's or another rank's (agreed: every rank ends with it), a
// rank is killed (mpirun then stops the others with SIGTERM, as after MPI_Abort), or a signal comes
// while rank 0 writes. Run by ctest under the mpirun lock (diffuser_cli_mpi_tests).
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <diffuser/engine/npy.hpp>

#include "tools/cli_reference.hpp"
#include "tools/cli_runner.hpp"

using namespace diffuser;
using namespace diffuser::test::cli;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

// mpirun and its arguments (DIFFUSER_MPIRUN: words separated by '|').
std::vector<std::string> mpirun(int ranks) {
  std::vector<std::string> words;
  const std::string all = DIFFUSER_MPIRUN;
  for (std::size_t at = 0; at <= all.size();) {
    const std::size_t end = std::min(all.find('|', at), all.size());
    if (end > at) words.push_back(all.substr(at, end - at));
    at = end + 1;
  }
  words.insert(words.end(), {"-np", std::to_string(ranks)});
  return words;
}

// The inputs of a small attend with its backward, written into dir.
void write_inputs(const TempDir& dir) {
  const Problem p = random_problem(40, 2, 4, 5);
  write_problem(p, dir.path());
  npy::save(dir / "dz.npy", p.v.data(), {p.n, p.h, p.d});
}

std::vector<std::string> attend(const std::string& grad_out) {
  return {"attend", "--graph",   "g.txt", "--q",           "q.npy",      "--k",    "k.npy",
          "--v",    "v.npy",     "--out", "z.npy",         "--grad-out", grad_out, "--grads-dir",
          "grads",  "--threads", "1",     "--distributed", "tokens"};
}

}  // namespace

TEST_CASE("distributed attend: a run that succeeds writes Z and DIR/dQ,dK,dV", "[cpu][tools][mpirun]") {
  TempDir dir;
  write_inputs(dir);
  RunOptions o;
  o.prefix = mpirun(2);
  const RunResult r = run_cli(attend("dz.npy"), dir.path(), o);
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(dir.listing().count("z.npy") == 1);
  CHECK(read_file(dir / "grads" / "dK.npy").size() > 128);
}

TEST_CASE("distributed attend: an error agreed by every rank leaves no --grads-dir folder",
          "[cpu][tools][mpirun]") {
  TempDir dir;
  write_inputs(dir);
  const auto before = dir.listing();
  RunOptions o;
  o.prefix = mpirun(2);
  // Rank 0 creates grads/, then fails to read dZ: every rank ends with the same line.
  const RunResult r = run_cli(attend("missing.npy"), dir.path(), o);
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Contains("rank 0: ") && Contains("missing.npy"));
  CHECK(dir.listing() == before);
}

TEST_CASE("distributed attend: an error on one rank only leaves no --grads-dir folder",
          "[cpu][tools][mpirun]") {
  TempDir dir;
  write_inputs(dir);
  fs::create_directory(dir / "elsewhere");
  const auto before = dir.listing();
  RunOptions o;
  // Rank 1 starts in another folder, where g.txt is missing: it fails to build the graph after rank 0
  // created grads/, and every rank ends with rank 1's error.
  o.prefix = mpirun(2);
  o.prefix.insert(
      o.prefix.end(),
      {"sh", "-c", "if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then cd elsewhere; fi; exec \"$0\" \"$@\""});
  const RunResult r = run_cli(attend("dz.npy"), dir.path(), o);
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Contains("rank 1: ") && Contains("g.txt"));
  CHECK(dir.listing() == before);
}

TEST_CASE("distributed attend: a rank killed mid-run leaves no --grads-dir folder", "[cpu][tools][mpirun]") {
  TempDir dir;
  // Large enough to run for seconds: rank 1 is killed (SIGTERM) once rank 0 has created grads/,
  // and mpirun then stops rank 0 with SIGTERM, whose handler removes the folder.
  const std::int64_t n = 20000, h = 2, d = 16;
  std::vector<float> x(static_cast<std::size_t>(n * h * d));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 2654435761u) % 1000) / 1000.0f;
  for (const char* name : {"q.npy", "k.npy", "v.npy", "dz.npy"}) npy::save(dir / name, x.data(), {n, h, d});
  const auto before = dir.listing();
  RunOptions o;
  o.prefix = mpirun(2);
  o.prefix.insert(o.prefix.end(),
                  {"sh", "-c",
                   "if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then (while [ ! -d grads ]; do sleep 0.01; done; "
                   "kill -TERM $$) & fi; exec \"$0\" \"$@\""});
  const RunResult r =
      run_cli({"attend", "--pattern",     "diffuser", "--n",         std::to_string(n), "--q",
               "q.npy",  "--k",           "k.npy",    "--v",         "v.npy",           "--out",
               "z.npy",  "--grad-out",    "dz.npy",   "--grads-dir", "grads",           "--threads",
               "1",      "--distributed", "tokens"},
              dir.path(), o);
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code != 0);
  CHECK(dir.listing() == before);
}

TEST_CASE("distributed attend: a signal while rank 0 writes leaves no --grads-dir folder",
          "[cpu][tools][mpirun]") {
  TempDir dir;
  write_inputs(dir);
  const auto before = dir.listing();
  RunOptions o;
  o.prefix = mpirun(2);
  o.env = {"DIFFUSER_TEST_SIGNAL_ON_TEMP=TERM"};  // raised once the first output is staged
  const RunResult r = run_cli(attend("dz.npy"), dir.path(), o);
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Contains("interrupted by SIGTERM"));
  CHECK(dir.listing() == before);
}
