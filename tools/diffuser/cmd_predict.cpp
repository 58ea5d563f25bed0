// `diffuser predict`: the classes a trained model gives a data set's split, and its accuracy when
// the split has labels.
#include <cstdio>
#include <filesystem>
#include <string>

#include <diffuser/attention/config.hpp>
#include <diffuser/attention/model.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/npy.hpp>
#include <diffuser/engine/sys.hpp>
#include <diffuser/training/dataset.hpp>
#include <diffuser/training/trainer.hpp>

#include "cli.hpp"
#include "command_context.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

namespace {

namespace fs = std::filesystem;
using namespace diffuser::attention;
using namespace diffuser::training;

int run_predict_body(Args& args) {
  const fs::path weights = args.require("weights");
  const fs::path config_path = args.require("config");
  const fs::path data_dir = args.require("data");
  const std::string split_name = args.get("split").value_or("test");
  const auto out_arg = args.get("out");
  const auto logits_out = args.get("logits-out");
  const std::int64_t batch = args.get_int("batch", 8);
  const std::int64_t limit = args.get_int("limit", 0);
  const int threads = threads_option(args);
  args.finish();
  if (split_name.empty() || split_name.find('/') != std::string::npos)
    throw UsageError(cat("--split must be a plain name, got '", split_name, "'"));
  const fs::path out = out_arg ? fs::path(*out_arg)
                               : (weights.parent_path().empty() ? fs::path(".") : weights.parent_path()) /
                                     ("predictions-" + split_name + ".npy");
  std::vector<std::pair<std::string, fs::path>> outputs{{"out", out}};
  if (logits_out) outputs.emplace_back("logits-out", *logits_out);
  check_distinct_outputs(outputs);
  for (const auto& [opt, p] : outputs) check_output_path(p, opt);

  const ModelConfig c = ModelConfig::load(config_path);
  const DatasetMeta meta = read_meta(data_dir);
  if (!has_split(data_dir, split_name))
    throw Error(cat((data_dir / (split_name + "_tokens.npy")).string(), ": missing"));
  const Split split = read_split(data_dir, split_name, meta, false);
  check_config_for_data(c, config_path.string(), meta, split.max_length(), data_dir.string());
  cli::CommandContext command_context(threads);
  const ModelParams p = load_model(weights, c);

  Stopwatch sw;
  const EvalResult r = *evaluate(c, p, split, batch, limit, logits_out.has_value());
  const double seconds = sw.seconds();
  OutputSet files;
  files.write(out, "out", [&](const fs::path& p) { npy::save(p, r.predictions.data(), {r.count}); });
  if (logits_out)
    files.write(*logits_out, "logits-out",
                [&](const fs::path& p) { npy::save(p, r.logits.data(), {r.count, c.num_labels}); });
  files.commit();

  std::printf("predict:  %s on %s/%s: %s sequences in %.2f s\n", weights.c_str(), data_dir.c_str(),
              split_name.c_str(), group_digits(r.count).c_str(), seconds);
  if (r.has_labels)
    std::printf("accuracy: %.4f (%lld/%lld), loss %.4f\n", r.accuracy(), static_cast<long long>(r.correct),
                static_cast<long long>(r.count), r.loss);
  else
    std::printf("accuracy: (no %s_labels.npy)\n", split_name.c_str());
  std::printf("wrote:    %s%s%s\n", out.c_str(), logits_out ? ", " : "",
              logits_out ? logits_out->c_str() : "");
  return 0;
}

int run_predict(Args& args) {
  return with_one_line_errors(args, &run_predict_body);
}

const Registrar reg({
    .name = "predict",
    .summary = "a trained model's classes and accuracy on a data set split",
    .usage = {"--weights W.safetensors --config C.json --data DIR [--split test]",
              "[--out P.npy] [--logits-out L.npy] [--batch B] [--limit S] [--threads T]"},
    .about = "Runs the model (inference: no dropout) on DIR/SPLIT_tokens.npy and _lengths.npy, prints the\n"
             "accuracy when SPLIT_labels.npy exists, and writes the predicted class of every sequence.\n",
    .options = {
        {"options",
         {
          {.label = "--weights W",
           .help = "a safetensors file with the model's tensors (final.safetensors or a checkpoint)"},
          {.label = "--config C.json",
           .help = "the model config the weights were trained with (RUNDIR/config.json)"},
          {.label = "--data DIR",
           .help = "a data set folder (diffuser data's layout, meta.json included)"},
          {.label = "--split NAME",
           .help = "train, valid, test (default) or any NAME with NAME_tokens.npy"},
          {.label = "--out P.npy",
           .help = "(S,) int32 predicted classes (default: predictions-SPLIT.npy next to W)"},
          {.label = "--logits-out L.npy", .help = "(S, num_labels) float32 logits"},
          {.label = "--batch B",
           .help = "sequences per batch (default 8)", .type = Option::Type::integer, .min = 1},
          {.label = "--limit S",
           .help = "the first S sequences only (default all)", .type = Option::Type::integer, .min = 0},
          {.label = "--threads T",
           .help = "CPU threads (default: all)", .type = Option::Type::integer, .min = 1, .max = 4096},
         }},
    },
    .notes = "example:\n"
             "  diffuser predict --weights run/final.safetensors --config run/config.json --data data --split test\n"
             "\n"
             "exit status: 0 success, 1 bad data (files, weights not matching the config, config not fitting the\n"
             "data), 2 bad usage.\n",
    .run = &run_predict,
    .order = 38,
});

}  // namespace

}  // namespace diffuser::cli
