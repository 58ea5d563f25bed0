// `diffuser data`: writes a generated classification data set (ListOps or a long-range retrieval)
// in the layout `diffuser train` reads: DIR/{train,valid,test}_{tokens,labels,lengths}.npy and
// DIR/meta.json, all or nothing.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/npy.hpp>
#include <diffuser/engine/sys.hpp>
#include <diffuser/training/dataset.hpp>
#include <diffuser/training/tasks.hpp>

#include "cli.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

namespace {

namespace fs = std::filesystem;
using namespace diffuser::training;

std::int64_t positive(Args& args, const char* name, std::int64_t fallback) {
  const std::int64_t v = args.get_int(name, fallback);
  if (v < 1) throw UsageError(cat("--", name, " must be >= 1, got ", v));
  return v;
}

struct Summary {
  double mean_length = 0;
  std::int64_t min_length = 0, max_length = 0;
  double majority = 0;  // share of the most frequent class
};

Summary summarise(const TaskSet& s, std::int64_t classes) {
  Summary r;
  std::vector<std::int64_t> per(static_cast<std::size_t>(classes));
  r.min_length = s.n;
  for (std::int64_t i = 0; i < s.count(); ++i) {
    const auto len = s.lengths[static_cast<std::size_t>(i)];
    r.mean_length += len;
    r.min_length = std::min<std::int64_t>(r.min_length, len);
    r.max_length = std::max<std::int64_t>(r.max_length, len);
    ++per[static_cast<std::size_t>(s.labels[static_cast<std::size_t>(i)])];
  }
  r.mean_length /= static_cast<double>(s.count());
  r.majority =
      static_cast<double>(*std::max_element(per.begin(), per.end())) / static_cast<double>(s.count());
  return r;
}

int run_data_body(Args& args) {
  const std::string task = args.require("task");
  const std::int64_t n = positive(args, "n", 0);
  const std::int64_t count = positive(args, "count", 0);
  const std::int64_t seed = args.get_int("seed", 0);
  const fs::path out = args.require("out");
  const std::int64_t valid = positive(args, "valid-count", std::max<std::int64_t>(1, count / 10));
  const std::int64_t test = positive(args, "test-count", std::max<std::int64_t>(1, count / 10));
  if (seed < 0) throw UsageError(cat("--seed must be >= 0, got ", seed));
  if (n > (1 << 24)) throw UsageError(cat("--n must be at most 16,777,216, got ", n));

  TaskInfo info;
  std::function<TaskSet(std::int64_t, std::uint64_t)> generate;
  if (task == "listops") {
    ListOpsOptions o;
    o.n = n;
    o.min_length = args.get_int("min-length", 0);
    o.max_depth = static_cast<int>(args.get_int("max-depth", 10));
    o.max_args = static_cast<int>(args.get_int("max-args", 10));
    args.finish();
    check(o);
    info = listops_info(o);
    generate = [o, seed](std::int64_t c, std::uint64_t split) {
      return generate_listops(o, c, static_cast<std::uint64_t>(seed), split);
    };
  } else if (task == "retrieval") {
    RetrievalOptions o;
    o.n = n;
    o.distance = args.get_int("distance", 0);
    o.jitter = args.get_int("jitter", 0);
    o.pairs = args.get_int("pairs", 1);
    o.keys = args.get_int("keys", 16);
    o.values = args.get_int("values", 10);
    o.filler = args.get_int("filler", 32);
    args.finish();
    check(o);
    info = retrieval_info(o);
    generate = [o, seed](std::int64_t c, std::uint64_t split) {
      return generate_retrieval(o, c, static_cast<std::uint64_t>(seed), split);
    };
  } else {
    throw UsageError(cat("--task must be listops or retrieval, got '", task, "'"));
  }
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec))
    throw Error(cat("--out ", out.string(), ": exists and is not a folder"));
  const fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  if (!fs::is_directory(parent, ec))
    throw Error(
        cat("--out ", out.string(), ": cannot create it, folder '", parent.string(), "' does not exist"));
  const std::int64_t bytes = (count + valid + test) * (n + 2) * 4;
  require_memory(2 * bytes, cat("data: ", count + valid + test, " sequences of ", n, " tokens"));

  Stopwatch sw;
  const std::vector<std::pair<std::string, std::int64_t>> splits{
      {"train", count}, {"valid", valid}, {"test", test}};
  std::vector<TaskSet> sets;
  for (std::size_t k = 0; k < splits.size(); ++k) sets.push_back(generate(splits[k].second, k));
  const double gen_s = sw.seconds();

  const bool created = !fs::exists(out, ec);
  fs::create_directory(out, ec);
  if (ec) throw Error(cat("--out ", out.string(), ": cannot create the folder: ", ec.message()));
  try {
    OutputSet outputs;
    for (std::size_t k = 0; k < splits.size(); ++k) {
      const TaskSet& s = sets[k];
      const std::string& name = splits[k].first;
      outputs.write(out / (name + "_tokens.npy"), "out",
                    [&](const fs::path& p) { npy::save(p, s.tokens.data(), {s.count(), s.n}); });
      outputs.write(out / (name + "_labels.npy"), "out",
                    [&](const fs::path& p) { npy::save(p, s.labels.data(), {s.count()}); });
      outputs.write(out / (name + "_lengths.npy"), "out",
                    [&](const fs::path& p) { npy::save(p, s.lengths.data(), {s.count()}); });
    }
    outputs.write(out / "meta.json", "out", [&](const fs::path& p) {
      AtomicOutput meta(p, false);
      meta.stream() << meta_json(info, static_cast<std::uint64_t>(seed), splits);
      meta.commit();
    });
    outputs.commit();
  } catch (...) {
    if (created) fs::remove(out, ec);  // only if still empty
    throw;
  }

  std::printf("data:     %s, N = %lld, vocabulary %lld, %lld classes, seed %lld (%.2f s)\n",
              info.task.c_str(), static_cast<long long>(n), static_cast<long long>(info.vocab_size),
              static_cast<long long>(info.num_classes), static_cast<long long>(seed), gen_s);
  for (std::size_t k = 0; k < splits.size(); ++k) {
    const Summary s = summarise(sets[k], info.num_classes);
    std::printf("%-9s %s sequences, lengths %lld..%lld (mean %.1f), most frequent class %.1f%%\n",
                (splits[k].first + ":").c_str(), group_digits(splits[k].second).c_str(),
                static_cast<long long>(s.min_length), static_cast<long long>(s.max_length), s.mean_length,
                100.0 * s.majority);
  }
  std::printf("wrote:    %s/{train,valid,test}_{tokens,labels,lengths}.npy, meta.json\n", out.c_str());
  return 0;
}

int run_data(Args& args) {
  return with_one_line_errors(args, &run_data_body);
}

const Registrar reg({
    .name = "data",
    .summary = "generate a training data set: ListOps or long-range retrieval (.npy + meta.json)",
    .usage = {"--task listops|retrieval --n N --count C --seed S --out DIR",
              "[--valid-count V] [--test-count T]",
              "listops:   [--min-length L] [--max-depth D] [--max-args A]",
              "retrieval: [--distance D] [--jitter J] [--pairs P] [--keys K] [--values V]",
              "           [--filler F]"},
    .about = "Writes a classification data set generated here (no downloads), in the layout diffuser train\n"
             "reads (user data in the same layout trains as well; docs/CLI.md):\n"
             "  DIR/{train,valid,test}_tokens.npy   (S, N) int32 token ids, <pad> = 1 past each length\n"
             "  DIR/{train,valid,test}_labels.npy   (S,) int32 class ids\n"
             "  DIR/{train,valid,test}_lengths.npy  (S,) int32 real tokens per sequence\n"
             "  DIR/meta.json                       vocab_size, num_classes, pad_id, the task's settings, the\n"
             "                                      name of every token id\n"
             "Token 0 of every sequence is the one the classifier reads.\n"
             "\n"
             "tasks:\n"
             "  listops    Long Range Arena's ListOps: operators [MAX [MIN [MED [SM (sum mod 10) over digits,\n"
             "             up to --max-args (10) arguments, depth up to --max-depth (10), brackets as tokens;\n"
             "             <cls> then the tree; trees of --min-length (default N/4) to N-1 tokens; 10 classes\n"
             "  retrieval  token 0 is a key; the same key and its value sit --distance (default N/2) tokens\n"
             "             later (the value at distance D + a uniform 0..--jitter); the label is that value\n"
             "             (--values classes, default 10); filler tokens elsewhere and --pairs - 1 distractor\n"
             "             pairs (other keys); every sequence has N tokens. Put D beyond what the model's graph\n"
             "             reaches from token 0 to test long-range flow.\n",
    .options = {
        {"options",
         {
          {.label = "--task listops|retrieval", .help = "the task (above)", .required = true},
          {.label = "--n N",
           .help = "padded length (maximum tokens per sequence), at most 16,777,216",
           .type = Option::Type::integer},
          {.label = "--count C", .help = "training sequences", .type = Option::Type::integer},
          {.label = "--valid-count V",
           .help = "validation sequences (default max(1, C/10))", .type = Option::Type::integer},
          {.label = "--test-count T",
           .help = "test sequences (default max(1, C/10))", .type = Option::Type::integer},
          {.label = "--seed S",
           .help = "every sequence is a function of (seed, split, index) (default 0)",
           .type = Option::Type::integer, .min = 0},
          {.label = "--out DIR",
           .help = "the folder (created if missing; its parent must exist); existing files of a data set there are replaced, all together, only when everything is written",
           .required = true},
         }},
        {"listops",
         {
          {.label = "--min-length L", .help = "shortest tree in tokens (default N/4)", .type = Option::Type::integer},
          {.label = "--max-depth D", .help = "deepest nesting (default 10)", .type = Option::Type::integer},
          {.label = "--max-args A", .help = "most arguments of an operator (default 10)", .type = Option::Type::integer},
         }},
        {"retrieval",
         {
          {.label = "--distance D", .help = "tokens from token 0 to the key's second place (default N/2)", .type = Option::Type::integer},
          {.label = "--jitter J", .help = "the value sits a uniform 0..J tokens further (default 0)", .type = Option::Type::integer},
          {.label = "--pairs P", .help = "key-value pairs, P - 1 of them distractors (default 1)", .type = Option::Type::integer},
          {.label = "--keys K", .help = "distinct keys (default 16)", .type = Option::Type::integer},
          {.label = "--values V", .help = "distinct values = classes (default 10)", .type = Option::Type::integer},
          {.label = "--filler F", .help = "distinct filler tokens (default 32)", .type = Option::Type::integer},
         }},
    },
    .notes = "examples:\n"
             "  diffuser data --task listops --n 1024 --count 2000 --seed 1 --out data/listops\n"
             "  diffuser data --task retrieval --n 1024 --distance 160 --jitter 64 --count 2000 --seed 1 --out data/ret\n"
             "\n"
             "exit status: 0 success, 1 bad data (output folder), 2 bad usage.\n",
    .docs = "[EXPERIMENTS.md](EXPERIMENTS.md)",
    .run = &run_data,
    .order = 36,
});

}  // namespace

}  // namespace diffuser::cli
