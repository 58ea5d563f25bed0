// `diffuser data`, `train` and `predict` end to end: the run folder, bitwise resume (into the same
// or another folder), a checkpoint on SIGINT, and bad input (missing files, wrong dtypes,
// out-of-vocabulary ids, a config or settings not matching the checkpoint, corrupt checkpoints):
// one line, exit 1 or 2, and the run folder left exactly as it was.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <diffuser/engine/npy.hpp>

#include "tools/cli_runner.hpp"

extern char** environ;

using namespace diffuser;
using namespace diffuser::test::cli;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

const char* kConfig = R"({"hidden_size": 16, "num_attention_heads": 2, "num_hidden_layers": 2,
  "intermediate_size": 32, "vocab_size": 17, "max_position_embeddings": 40, "num_labels": 10,
  "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
  "pattern": "window:2+random:1+global-at:0", "hops": 3, "alpha": 0.2})";

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream f(p);
  f << s;
}

// stderr holds progress lines only ("diffuser train: evaluation at step 3: ..."), no error.
bool progress_only(const std::string& err) {
  std::istringstream lines(err);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("diffuser ", 0) != 0 || line.find(": error:") != std::string::npos) return false;
  return true;
}

RunResult run_ok(const std::vector<std::string>& args, const TempDir& dir) {
  RunResult r = run_cli(args, dir.path());
  INFO("args: " << args.front() << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE_FALSE(r.signaled);
  REQUIRE(r.exit_code == 0);
  REQUIRE(progress_only(r.err));
  return r;
}

RunResult run_fail(const std::vector<std::string>& args, const TempDir& dir, int code) {
  RunResult r = run_cli(args, dir.path());
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE_FALSE(r.signaled);
  REQUIRE(r.exit_code == code);
  REQUIRE(r.err_lines() == 1);
  return r;
}

// Every file of a folder with its bytes.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out[e.path().filename().string()] = read_file(e.path());
  return out;
}

std::vector<std::string> train_args(const std::string& out, int steps) {
  return {"train",
          "--config",
          "c.json",
          "--data",
          "data",
          "--steps",
          std::to_string(steps),
          "--out",
          out,
          "--batch",
          "3",
          "--accumulate",
          "2",
          "--lr",
          "3e-3",
          "--warmup",
          "2",
          "--decay",
          "cosine",
          "--threads",
          "2",
          "--eval-every",
          "3",
          "--eval-samples",
          "4"};
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& more) {
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

// The loss column of log.csv, by step.
std::map<int, std::string> losses(const fs::path& log) {
  std::map<int, std::string> out;
  std::ifstream in(log);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    const auto a = line.find(','), b = line.find(',', a + 1);
    out[std::stoi(line.substr(0, a))] = line.substr(a + 1, b - a - 1);
  }
  return out;
}

void make_data(const TempDir& dir) {
  write_text(dir / "c.json", kConfig);
  run_ok({"data", "--task", "listops", "--n", "24", "--count", "18", "--valid-count", "6", "--test-count",
          "5", "--seed", "4", "--min-length", "4", "--out", "data"},
         dir);
}

}  // namespace

TEST_CASE("diffuser data/train/predict: a run folder, then a bitwise resume", "[cpu][training][cli]") {
  TempDir dir;
  make_data(dir);
  for (const char* f : {"meta.json", "train_tokens.npy", "train_labels.npy", "train_lengths.npy",
                        "valid_tokens.npy", "test_lengths.npy"})
    CHECK(fs::exists(dir / "data" / f));
  npy::Header h = npy::read_header(dir / "data" / "train_tokens.npy");
  CHECK(h.dtype == npy::DType::i4);
  CHECK(h.shape == std::vector<std::int64_t>{18, 24});

  const RunResult a = run_ok(with(train_args("a", 6), {"--checkpoint-every", "3"}), dir);
  CHECK_THAT(a.err, Contains("evaluation at step 3"));  // progress notes, on stderr
  CHECK_THAT(a.err, Contains("checkpoint: a/checkpoint-3.safetensors"));
  CHECK_THAT(a.out, Contains("done:     6 steps"));
  for (const char* f : {"log.csv", "checkpoint-3.safetensors", "checkpoint-6.safetensors",
                        "final.safetensors", "config.json", "train.json"})
    CHECK(fs::exists(dir / "a" / f));
  const auto log_a = losses(dir / "a" / "log.csv");
  REQUIRE(log_a.size() == 6);
  const std::string log_text = read_file(dir / "a" / "log.csv");
  CHECK_THAT(log_text, Contains("step,loss,lr,grad_norm,tokens,tokens_per_s"));
  CHECK_THAT(log_text, Contains("eval_loss,eval_accuracy"));

  // Resume from step 3 into another folder, and into the run's own folder: the same final bits.
  run_ok(with(train_args("b", 6), {"--resume", "a/checkpoint-3.safetensors"}), dir);
  CHECK(read_file(dir / "b" / "final.safetensors") == read_file(dir / "a" / "final.safetensors"));
  CHECK(losses(dir / "b" / "log.csv") == log_a);  // the earlier rows come along
  fs::copy(dir / "a", dir / "c");
  fs::remove(dir / "c" / "final.safetensors");
  fs::remove(dir / "c" / "checkpoint-6.safetensors");
  run_ok({"train", "--config", "c.json", "--data", "data", "--steps", "6", "--out", "c", "--threads", "2",
          "--resume", "c/checkpoint-3.safetensors"},
         dir);  // settings from the checkpoint
  CHECK(read_file(dir / "c" / "final.safetensors") == read_file(dir / "a" / "final.safetensors"));
  CHECK(losses(dir / "c" / "log.csv") == log_a);

  // A fresh run with the same seed and threads: the same bits.
  run_ok(train_args("d", 6), dir);
  CHECK(read_file(dir / "d" / "final.safetensors") == read_file(dir / "a" / "final.safetensors"));

  const RunResult p = run_ok({"predict", "--weights", "a/final.safetensors", "--config", "a/config.json",
                              "--data", "data", "--split", "test", "--logits-out", "logits.npy"},
                             dir);
  CHECK_THAT(p.out, Contains("accuracy: "));
  CHECK_THAT(p.out, Contains("/5)"));
  h = npy::read_header(dir / "a" / "predictions-test.npy");
  CHECK(h.shape == std::vector<std::int64_t>{5});
  CHECK(npy::read_header(dir / "logits.npy").shape == std::vector<std::int64_t>{5, 10});
  // A checkpoint holds the weights under the same names.
  run_ok({"predict", "--weights", "a/checkpoint-6.safetensors", "--config", "c.json", "--data", "data",
          "--out", "p6.npy"},
         dir);
  CHECK(read_file(dir / "p6.npy") == read_file(dir / "a" / "predictions-test.npy"));

  // diffuser curves: the runs' logs as a chart.
  const RunResult curves = run_ok({"curves", "--series", "K=3=a,d", "--series", "resumed=b", "--y",
                                   "eval_accuracy", "--hline", "0.1=chance", "--out", "acc.svg"},
                                  dir);
  const std::string svg = read_file(dir / "acc.svg");
  CHECK_THAT(svg, Contains("<svg"));
  CHECK_THAT(svg, Contains("<title>eval_accuracy during training</title>"));
  // Cairo writes text as glyph outlines: the labels drawn are listed on stdout.
  CHECK_THAT(curves.out, Contains("series K=3, resumed; line chance"));
  run_ok(
      {"curves", "--series", "a=a", "--y", "loss", "--x", "elapsed_s", "--smooth", "3", "--out", "loss.png"},
      dir);
  CHECK(read_file(dir / "loss.png").substr(1, 3) == "PNG");
  CHECK_THAT(run_fail({"curves", "--series", "x=nowhere", "--out", "x.svg"}, dir, 1).err,
             Contains("log.csv: missing"));
  run_fail({"curves", "--series", "x=a", "--y", "bogus", "--out", "x.svg"}, dir, 2);
  run_fail({"curves", "--series", "a", "--out", "x.svg"}, dir, 2);
  CHECK_FALSE(fs::exists(dir / "x.svg"));
}

TEST_CASE("diffuser train: bad input is one line, exit 1 or 2, and nothing is overwritten",
          "[cpu][training][cli]") {
  TempDir dir;
  make_data(dir);
  run_ok(with(train_args("run", 4), {"--checkpoint-every", "2"}), dir);
  const auto before = snapshot(dir / "run");
  auto unchanged = [&] { CHECK(snapshot(dir / "run") == before); };

  // A data folder with a missing file, wrong dtypes, out-of-vocabulary ids.
  fs::copy(dir / "data", dir / "bad");
  fs::remove(dir / "bad" / "train_labels.npy");
  auto bad_run = with(train_args("run", 4), {"--resume", "run/checkpoint-2.safetensors"});
  bad_run[4] = "bad";
  CHECK_THAT(run_fail(bad_run, dir, 1).err, Contains("train_labels.npy: missing"));
  unchanged();
  write_file(dir / "bad" / "train_labels.npy", npy_file("<f4", "(18,)", 18 * 4));
  CHECK_THAT(run_fail(bad_run, dir, 1).err, Contains("dtype <f4 where int32"));
  fs::copy_file(dir / "data" / "train_labels.npy", dir / "bad" / "train_labels.npy",
                fs::copy_options::overwrite_existing);
  std::vector<std::int32_t> tokens(18 * 24, 7);
  tokens[5 * 24 + 2] = 99;
  std::vector<std::int32_t> lengths(18, 24);
  npy::save(dir / "bad" / "train_tokens.npy", tokens.data(), {18, 24});
  npy::save(dir / "bad" / "train_lengths.npy", lengths.data(), {18});
  CHECK_THAT(run_fail(bad_run, dir, 1).err, Contains("token [5, 2] = 99 is outside the vocabulary [0, 17)"));
  fs::remove(dir / "bad" / "meta.json");
  CHECK_THAT(run_fail(bad_run, dir, 1).err, Contains("meta.json: missing"));
  unchanged();

  // The same data but other tokens than the checkpoint was trained on.
  fs::remove_all(dir / "bad");
  fs::copy(dir / "data", dir / "bad");
  tokens[5 * 24 + 2] = 7;
  npy::save(dir / "bad" / "train_tokens.npy", tokens.data(), {18, 24});
  npy::save(dir / "bad" / "train_lengths.npy", lengths.data(), {18});
  CHECK_THAT(run_fail(bad_run, dir, 1).err, Contains("the training data differ"));
  unchanged();

  // A config that does not match the checkpoint, settings that differ from it.
  std::string other = kConfig;
  other.replace(other.find("\"hops\": 3"), 9, "\"hops\": 5");
  write_text(dir / "other.json", other);
  auto mismatch = with(train_args("run", 4), {"--resume", "run/checkpoint-2.safetensors"});
  mismatch[2] = "other.json";
  CHECK_THAT(run_fail(mismatch, dir, 1).err,
             Contains("does not match the model of run/checkpoint-2.safetensors"));
  CHECK_THAT(run_fail(mismatch, dir, 1).err, Contains("diffusion_hops: 3 vs 5"));
  auto lr = with(train_args("run", 4), {"--resume", "run/checkpoint-2.safetensors"});
  lr[14] = "1e-3";
  CHECK_THAT(run_fail(lr, dir, 2).err, Contains("lr 0.003 vs 0.001"));
  CHECK_THAT(run_fail(with(train_args("run", 4), {"--resume", "run/checkpoint-4.safetensors"}), dir, 2).err,
             Contains("at step 4 already"));
  unchanged();

  // Corrupt checkpoints: a flipped byte, a truncated file, a weights file.
  std::string bytes = read_file(dir / "run" / "checkpoint-2.safetensors");
  bytes[bytes.size() - 7] = static_cast<char>(bytes[bytes.size() - 7] ^ 0x10);
  write_file(dir / "flipped.safetensors", bytes);
  CHECK_THAT(run_fail(with(train_args("x", 4), {"--resume", "flipped.safetensors"}), dir, 1).err,
             Contains("checksum"));
  write_file(dir / "short.safetensors", bytes.substr(0, bytes.size() / 3));
  run_fail(with(train_args("x", 4), {"--resume", "short.safetensors"}), dir, 1);
  CHECK_THAT(run_fail(with(train_args("x", 4), {"--resume", "run/final.safetensors"}), dir, 1).err,
             Contains("not a diffuser training checkpoint"));
  CHECK_FALSE(fs::exists(dir / "x"));
  run_fail(with(train_args("x", 4), {"--resume", "nothing.safetensors"}), dir, 1);

  // A folder holding a run, bad options, a config that does not fit the data.
  CHECK_THAT(run_fail(train_args("run", 4), dir, 1).err, Contains("holds a run already"));
  run_fail(with(train_args("run", 4), {"--bogus"}), dir, 2);
  run_fail(with(train_args("x", 4), {"--batch", "0"}), dir, 2);
  run_fail(with(train_args("x", 4), {"--decay", "step"}), dir, 2);
  run_fail(with(train_args("x", 4),
                {"--init", "run/final.safetensors", "--resume", "run/checkpoint-2.safetensors"}),
           dir, 2);
  std::string few = kConfig;
  few.replace(few.find("\"num_labels\": 10"), 16, "\"num_labels\": 3");
  write_text(dir / "few.json", few);
  auto fit = train_args("x", 4);
  fit[2] = "few.json";
  CHECK_THAT(run_fail(fit, dir, 1).err, Contains("num_labels"));
  CHECK_FALSE(fs::exists(dir / "x"));
  unchanged();

  // predict: weights of another model, a missing split.
  std::string wide = kConfig;
  wide.replace(wide.find("\"intermediate_size\": 32"), 23, "\"intermediate_size\": 48");
  write_text(dir / "wide.json", wide);
  CHECK_THAT(run_fail({"predict", "--weights", "run/final.safetensors", "--config", "wide.json", "--data",
                       "data", "--out", "p.npy"},
                      dir, 1)
                 .err,
             Contains("intermediate.dense.weight"));
  run_fail({"predict", "--weights", "run/final.safetensors", "--config", "c.json", "--data", "data",
            "--split", "dev", "--out", "p.npy"},
           dir, 1);
  CHECK_FALSE(fs::exists(dir / "p.npy"));
  unchanged();

  // data: bad usage.
  run_fail({"data", "--task", "sorting", "--n", "24", "--count", "4", "--out", "d2"}, dir, 2);
  run_fail({"data", "--task", "retrieval", "--n", "24", "--distance", "30", "--count", "4", "--out", "d2"},
           dir, 2);
  CHECK_FALSE(fs::exists(dir / "d2"));
}

TEST_CASE("diffuser train: SIGINT writes a checkpoint and exits, and resuming it is bitwise",
          "[cpu][training][cli]") {
  TempDir dir;
  make_data(dir);
  std::vector<std::string> args{DIFFUSER_CLI, "train",    "--config",  "c.json", "--data",       "data",
                                "--steps",    "100000",   "--out",     "run",    "--batch",      "3",
                                "--decay",    "constant", "--threads", "2",      "--eval-every", "0"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addchdir_np(&fa, dir.path().c_str());
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&fa);
  // Wait for a few logged steps, then interrupt.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream log(dir / "run" / "log.csv");
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    if (std::count(text.begin(), text.end(), '\n') >= 4) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  std::string ckpt;
  for (const auto& [name, bytes] : snapshot(dir / "run")) {
    CHECK(name.find(".tmp") == std::string::npos);
    if (name.rfind("checkpoint-", 0) == 0) ckpt = name;
  }
  REQUIRE_FALSE(ckpt.empty());
  const int step = std::stoi(ckpt.substr(11));
  CHECK(step >= 3);
  CHECK(losses(dir / "run" / "log.csv").size() == static_cast<std::size_t>(step));

  // Continue to step + 2, and compare with a run that was never interrupted.
  const std::string total = std::to_string(step + 2);
  run_ok({"train", "--config", "c.json", "--data", "data", "--steps", total, "--out", "run", "--threads", "2",
          "--eval-every", "0", "--resume", "run/" + ckpt},
         dir);
  run_ok({"train", "--config", "c.json", "--data", "data", "--steps", total, "--out", "fresh", "--batch", "3",
          "--decay", "constant", "--threads", "2", "--eval-every", "0"},
         dir);
  CHECK(read_file(dir / "run" / "final.safetensors") == read_file(dir / "fresh" / "final.safetensors"));
  CHECK(losses(dir / "run" / "log.csv") == losses(dir / "fresh" / "log.csv"));
}
