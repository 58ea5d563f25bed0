// `diffuser train`: trains the Diffuser encoder stack for sequence classification on a data set
// folder (diffuser data's layout): AdamW, warm-up + decay, clipping, accumulation, evaluation,
// checkpoints that resume bit for bit, and a checkpoint on SIGINT / SIGTERM.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include <diffuser/attention/config.hpp>
#include <diffuser/attention/model.hpp>
#include <diffuser/attention/safetensors.hpp>
#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>
#include <diffuser/training/checkpoint.hpp>
#include <diffuser/training/dataset.hpp>
#include <diffuser/training/trainer.hpp>

#include "cli.hpp"
#include "command_context.hpp"
#include "progress.hpp"
#include "tool_util.hpp"
#include "train_log.hpp"
#include "train_setup.hpp"

namespace diffuser::cli {

namespace {

namespace fs = std::filesystem;
using namespace diffuser::attention;
using namespace diffuser::training;

// "1.2346" for fixed(1.23456, 4): the progress detail's numbers.
std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

void write_text(const fs::path& path, const std::string& text) {
  AtomicOutput out(path, false);
  out.stream() << text;
  out.commit();
}

int run_train_body(Args& args) {
  const fs::path config_path = args.require("config");
  const fs::path data_dir = args.require("data");
  const fs::path out_dir = args.require("out");
  TrainFlags flags = read_train_flags(args);
  const auto resume_arg = args.get("resume");
  const auto init_arg = args.get("init");
  const auto grads_out = args.get("grads-out");
  const auto eval_every_arg = args.get_int("eval-every");
  const std::int64_t eval_samples = args.get_int("eval-samples", 0);
  const auto eval_batch_arg = args.get_int("eval-batch");
  const std::int64_t checkpoint_every = args.get_int("checkpoint-every", 0);
  const std::int64_t keep_checkpoints = args.get_int("keep-checkpoints", 0);
  const std::int64_t log_every = args.get_int("log-every", 1);
  const bool overwrite = args.flag("overwrite");
  const bool quiet = args.flag("quiet");
  const int threads = threads_option(args);
  args.finish();
  if (resume_arg && init_arg) throw UsageError("give either --resume or --init, not both");
  flags.o.validate();

  // Everything is read and checked before RUNDIR is touched.
  const ModelConfig c = ModelConfig::load(config_path);
  const DatasetMeta meta = read_meta(data_dir);
  const Split train = read_split(data_dir, "train", meta, true);
  const bool has_valid = has_split(data_dir, "valid");
  const std::int64_t eval_every =
      eval_every_arg ? *eval_every_arg : (has_valid ? std::max<std::int64_t>(1, flags.o.steps / 10) : 0);
  std::optional<Split> valid;
  if (eval_every > 0) {
    if (!has_valid)
      throw Error(cat((data_dir / "valid_tokens.npy").string(), ": missing (needed by --eval-every)"));
    valid = read_split(data_dir, "valid", meta, true);
  }
  check_config_for_data(c, config_path.string(), meta,
                        std::max(train.max_length(), valid ? valid->max_length() : 0), data_dir.string());
  const std::uint64_t data_fp = fingerprint(train);

  TrainOptions o = flags.o;
  std::optional<CheckpointState> resumed;
  if (resume_arg) {
    const fs::path ckpt = *resume_arg;
    if (!fs::exists(ckpt)) throw Error(cat("--resume ", ckpt.string(), ": no such file"));
    resumed = read_checkpoint_state(ckpt);
    const ModelConfig saved = ModelConfig::from_json(resumed->config_json, ckpt.string() + " (config)");
    const std::string d = config_difference(saved, c);
    if (!d.empty())
      throw Error(cat(config_path.string(), " does not match the model of ", ckpt.string(), " (", d,
                      "; the checkpoint's value first)"));
    o = merge_resumed(flags, TrainOptions::from_json(resumed->options_json, ckpt.string()), ckpt);
    o.validate();
    if (resumed->data_fingerprint != data_fp)
      throw Error(cat(data_dir.string(), ": the training data differ from the data ", ckpt.string(),
                      " was trained on"));
    if (resumed->cursor != resumed->step * o.sequences_per_step())
      throw Error(
          cat(ckpt.string(), ": its data cursor ", resumed->cursor, " does not match step ", resumed->step));
    if (resumed->step >= o.steps)
      throw UsageError(
          cat("--steps ", o.steps, ": ", ckpt.string(), " is at step ", resumed->step, " already"));
  }
  const std::int64_t eval_batch = eval_batch_arg.value_or(o.batch);

  std::error_code ec;
  if (fs::exists(out_dir, ec) && !fs::is_directory(out_dir, ec))
    throw Error(cat("--out ", out_dir.string(), ": exists and is not a folder"));
  const fs::path parent = out_dir.parent_path().empty() ? fs::path(".") : out_dir.parent_path();
  if (!fs::is_directory(parent, ec))
    throw Error(
        cat("--out ", out_dir.string(), ": cannot create it, folder '", parent.string(), "' does not exist"));
  const bool into_own_run = resume_arg && fs::equivalent(fs::path(*resume_arg).parent_path().empty()
                                                             ? fs::path(".")
                                                             : fs::path(*resume_arg).parent_path(),
                                                         out_dir, ec);
  if (holds_run(out_dir) && !into_own_run && !overwrite)
    throw Error(cat("--out ", out_dir.string(),
                    ": holds a run already (log.csv, checkpoints); resume one of its "
                    "checkpoints with --resume or pass --overwrite"));
  if (grads_out) check_output_path(*grads_out, "grads-out");

  // Weights and optimizer state.
  cli::CommandContext command_context(threads);
  ModelParams init(c);
  if (init_arg) {
    init = load_model(*init_arg, c);
  } else if (!resume_arg) {
    init_model(init, c, o.seed);
  }
  Trainer trainer(c, o, train, std::move(init));
  if (resumed) {
    load_checkpoint(*resume_arg, c, trainer.params(), trainer.optimizer());
    trainer.restore(resumed->step);
  }
  const std::int64_t first_step = trainer.step_count();

  // RUNDIR.
  fs::create_directories(out_dir, ec);
  if (ec) throw Error(cat("--out ", out_dir.string(), ": cannot create the folder: ", ec.message()));
  if (overwrite && !into_own_run) {
    for (const auto& [s, p] : checkpoints_in(out_dir)) fs::remove(p, ec);
    fs::remove(out_dir / "final.safetensors", ec);
    fs::remove(out_dir / "log.csv", ec);
  }
  write_text(out_dir / "config.json", c.to_json());
  write_text(out_dir / "train.json", o.to_json() + "\n");
  TrainLog log(out_dir / "log.csv");
  double elapsed = 0.0;
  if (resumed) {
    const fs::path own = out_dir / "log.csv";
    const fs::path theirs = fs::path(*resume_arg).parent_path() / "log.csv";
    elapsed = log.adopt(fs::exists(own) ? own : theirs, resumed->step);
  }
  log.write();

  const std::int64_t params = parameter_count(trainer.params(), c);
  std::printf("model:    %s: %lld layers, d_model %lld, %lld head%s, FFN %lld, %s parameters\n",
              config_path.c_str(), static_cast<long long>(c.num_hidden_layers),
              static_cast<long long>(c.hidden_size), static_cast<long long>(c.num_attention_heads),
              c.num_attention_heads == 1 ? "" : "s", static_cast<long long>(c.intermediate_size),
              group_digits(params).c_str());
  std::printf("graph:    '%s', %s\n", c.pattern_for_layer(0).c_str(), describe_diffusion(c).c_str());
  std::printf("data:     %s: %s training sequences of up to %lld tokens%s\n", data_dir.c_str(),
              group_digits(train.count()).c_str(), static_cast<long long>(train.max_length()),
              valid ? cat(", ", group_digits(valid->count()), " for evaluation").c_str() : "");
  std::printf(
      "training: steps %lld..%lld, %lld x %lld sequences a step, lr %g (warm-up %lld, %s), weight decay %g, "
      "clip %g, seed %llu, %d thread%s\n",
      static_cast<long long>(first_step + 1), static_cast<long long>(o.steps),
      static_cast<long long>(o.accumulate), static_cast<long long>(o.batch), o.schedule.base,
      static_cast<long long>(o.schedule.warmup), decay_name(o.schedule.decay), o.adam.weight_decay, o.clip,
      static_cast<unsigned long long>(o.seed), current_context().cpu_threads(),
      current_context().cpu_threads() == 1 ? "" : "s");
  std::fflush(stdout);

  CheckpointState state;
  state.seed = o.seed;
  state.config_json = c.to_json();
  state.options_json = o.to_json();
  state.data_fingerprint = data_fp;
  std::int64_t last_checkpoint = resumed ? resumed->step : -1;
  auto checkpoint = [&](Progress& progress) {
    state.step = trainer.step_count();
    state.cursor = trainer.cursor();
    const fs::path p = out_dir / checkpoint_name(state.step);
    save_checkpoint(p, c, trainer.params(), trainer.optimizer(), state);
    last_checkpoint = state.step;
    if (keep_checkpoints > 0) {
      auto all = checkpoints_in(out_dir);
      for (std::size_t k = 0; k + static_cast<std::size_t>(keep_checkpoints) < all.size(); ++k)
        fs::remove(all[k].second, ec);
    }
    progress.note(cat("checkpoint: ", p.string()));
  };

  StopSignals signals;
  // Progress on stderr through the shared reporter (a bar on a terminal, sparse lines otherwise);
  // stdout keeps the run's description and its result.
  Progress progress("train", progress_style(quiet));
  progress.stage("steps", static_cast<double>(o.steps - first_step));
  std::optional<EvalResult> last_eval;
  std::int64_t last_eval_step = -1;
  double tokens_total = 0.0, seconds_total = 0.0;
  auto stop = [] { return StopSignals::received() != 0; };

  while (trainer.step_count() < o.steps && !stop()) {
    Stopwatch sw;
    const double cpu0 = process_cpu_seconds();
    StepStats s = trainer.compute_gradients();
    if (grads_out && trainer.step_count() == first_step) {
      save_model(*grads_out, trainer.gradients(), c);
    }
    trainer.apply(s);
    const double step_s = sw.seconds();
    const double cpu_s = process_cpu_seconds() - cpu0;
    elapsed += step_s;
    tokens_total += static_cast<double>(s.tokens);
    seconds_total += step_s;

    LogRow row;
    row.step = s.step;
    row.loss = s.loss;
    row.lr = s.lr;
    row.grad_norm = s.grad_norm;
    row.tokens = s.tokens;
    row.tokens_per_s = static_cast<double>(s.tokens) / step_s;
    row.step_s = step_s;
    row.cpu_s = cpu_s;
    row.elapsed_s = elapsed;
    const bool last = s.step == o.steps;
    if (valid && (s.step % eval_every == 0 || last)) {
      Stopwatch ew;
      last_eval = evaluate(c, trainer.params(), *valid, eval_batch, eval_samples, false, stop);
      if (last_eval) {
        last_eval_step = s.step;
        row.eval_loss = last_eval->loss;
        row.eval_accuracy = last_eval->accuracy();
        progress.note(cat("evaluation at step ", s.step, ": loss ", last_eval->loss, ", accuracy ",
                          100.0 * last_eval->accuracy(), "% (", last_eval->correct, "/", last_eval->count,
                          ", ", format_duration(ew.seconds()), ")"));
      }
    }
    if (s.step % log_every == 0 || last || row.eval_loss) {
      log.add(row);
      log.write();
    }
    progress.update(static_cast<double>(s.step - first_step),
                    cat("step ", s.step, "/", o.steps, ", loss ", fixed(s.loss, 4), ", ",
                        fixed(row.tokens_per_s, 0), " tokens/s"));
    if (checkpoint_every > 0 && s.step % checkpoint_every == 0 && !last) checkpoint(progress);
  }

  if (const int sig = StopSignals::received()) {
    if (last_checkpoint != trainer.step_count()) checkpoint(progress);
    progress.finish();
    std::printf("stopped:  %s at step %lld; resume with --resume %s\n", sig == SIGINT ? "SIGINT" : "SIGTERM",
                static_cast<long long>(trainer.step_count()),
                (out_dir / checkpoint_name(trainer.step_count())).c_str());
    return 128 + sig;
  }
  checkpoint(progress);
  save_model(out_dir / "final.safetensors", trainer.params(), c);
  progress.finish();
  std::printf("done:     %lld steps in %s, %.0f tokens/s",
              static_cast<long long>(trainer.step_count() - first_step),
              format_duration(seconds_total).c_str(), seconds_total > 0 ? tokens_total / seconds_total : 0.0);
  if (last_eval && last_eval_step == trainer.step_count())
    std::printf(", eval loss %.4f, accuracy %.2f%%", last_eval->loss, 100.0 * last_eval->accuracy());
  std::printf(", peak RSS %s\n", format_bytes(peak_rss_bytes()).c_str());
  std::printf("wrote:    %s/{final.safetensors,%s,log.csv}\n", out_dir.c_str(),
              checkpoint_name(trainer.step_count()).c_str());
  return 0;
}

int run_train(Args& args) {
  return with_one_line_errors(args, &run_train_body);
}

const Registrar reg({
    .name = "train",
    .summary = "train the model for classification on a data set (AdamW, checkpoints, resume)",
    .usage = {"--config C.json --data DIR --steps N --out RUNDIR [--batch B] [--lr LR]",
              "[--warmup W] [--decay linear|cosine|constant] [--min-lr-ratio R]",
              "[--weight-decay WD] [--beta1 B1] [--beta2 B2] [--eps E] [--clip G]",
              "[--accumulate A] [--eval-every E] [--eval-samples S] [--eval-batch B]",
              "[--checkpoint-every C] [--keep-checkpoints K] [--log-every L]",
              "[--resume RUNDIR/checkpoint-STEP.safetensors | --init W.safetensors]",
              "[--seed S] [--no-shuffle] [--threads T] [--overwrite] [--grads-out G.safetensors] [--quiet]"},
    .about = "Trains the Diffuser encoder stack (embeddings, num_hidden_layers layers, RoBERTa's classification\n"
             "head on token 0) with cross-entropy on DIR/train_*.npy. Each step runs A micro-batches of B\n"
             "sequences (side by side, no padding), averages their gradients, clips them by the global norm and\n"
             "applies AdamW. The graph and the diffusion come from the config: the authors' keys (attention_window,\n"
             "num_rand, num_glob), or \"pattern\" (any pattern expression), and \"hops\", \"alpha\", \"theta\", \"heat\".\n"
             "\n"
             "outputs (in RUNDIR, created if missing; every file written atomically):\n"
             "  log.csv            step, loss, lr, grad_norm, tokens, tokens_per_s, step_s, cpu_s, elapsed_s, and at\n"
             "                     evaluation steps eval_loss, eval_accuracy\n"
             "  checkpoint-STEP.safetensors  weights, both AdamW moments, step, random state, config, settings\n"
             "  final.safetensors  the weights at the end (diffuser predict, diffuser layer)\n"
             "  config.json, train.json  the model config and the training settings\n",
    .options = {
        {"inputs",
         {
          {.label = "--config C.json",
           .help = "the model (docs/LAYER.md); num_labels, vocab_size and max_position_embeddings must fit the data (meta.json)", .required = true},
          {.label = "--data DIR",
           .help = "train_{tokens,labels,lengths}.npy, valid_* for evaluation, meta.json", .required = true},
          {.label = "--init W",
           .help = "start from these weights (safetensors, RoBERTa names) instead of random ones"},
          {.label = "--resume CKPT",
           .help = "continue a run from its checkpoint: same config, data and settings (flags left out are taken from it); --steps may grow. Bit for bit the uninterrupted run for the same --threads"},
         }},
        {"schedule and optimizer",
         {
          {.label = "--steps N",
           .help = "optimizer steps in all (a resumed run counts from the checkpoint's step)", .type = Option::Type::integer, .required = true},
          {.label = "--batch B",
           .help = "sequences per micro-batch (default 8)", .type = Option::Type::integer},
          {.label = "--accumulate A",
           .help = "micro-batches per step (default 1): A x B sequences a step", .type = Option::Type::integer},
          {.label = "--lr LR",
           .help = "peak learning rate (default 1e-3)", .type = Option::Type::number},
          {.label = "--warmup W",
           .help = "steps of linear warm-up from 0 (default 0)", .type = Option::Type::integer},
          {.label = "--decay D",
           .help = "after warm-up: linear (default), cosine or constant, down to --min-lr-ratio x LR (default 0) at step N"},
          {.label = "--weight-decay WD",
           .help = "AdamW's decoupled decay on weights (not biases or LayerNorm) (default 0.01)", .type = Option::Type::number},
          {.label = "--beta1 B1 --beta2 B2 --eps E",
           .help = "AdamW (default 0.9, 0.999, 1e-8)", .type = Option::Type::number},
          {.label = "--min-lr-ratio R", .help = "the learning rate at step N, as a share of LR (default 0)", .type = Option::Type::number},
          {.label = "--clip G",
           .help = "clip the global gradient norm to G (default 1; 0 = off)", .type = Option::Type::number},
          {.label = "--seed S",
           .help = "initial weights, sample order and dropout (default 0)", .type = Option::Type::integer},
          {.label = "--no-shuffle",
           .help = "samples in file order (default: a seeded permutation per epoch)"},
         }},
        {"evaluation, checkpoints, log",
         {
          {.label = "--out RUNDIR", .help = "the run's folder (files above)", .required = true},
          {.label = "--eval-every E", .help = "evaluate on valid_* every E steps and at the end (default N/10 when the data has a valid split; 0 = never)", .type = Option::Type::integer, .min = 0},
          {.label = "--eval-samples S", .help = "the first S validation sequences only (default all)", .type = Option::Type::integer, .min = 0},
          {.label = "--eval-batch B", .help = "sequences per evaluation batch (default --batch)", .type = Option::Type::integer, .min = 1},
          {.label = "--checkpoint-every C", .help = "a checkpoint every C steps (default 0: only at the end and on a signal)", .type = Option::Type::integer, .min = 0},
          {.label = "--keep-checkpoints K", .help = "keep the newest K checkpoints (default 0: all)", .type = Option::Type::integer, .min = 0},
          {.label = "--log-every L", .help = "a log.csv row every L steps (default 1; evaluation steps and the last always)", .type = Option::Type::integer, .min = 1},
          {.label = "--grads-out G", .help = "the gradients of the run's first step (before clipping), RoBERTa names"},
          {.label = "--overwrite", .help = "start afresh in a RUNDIR that holds a run (its checkpoints are removed)"},
          {.label = "--threads T", .help = "CPU threads (default: all); results are reproducible for a fixed T", .type = Option::Type::integer, .min = 1, .max = 4096},
          {.label = "--quiet", .help = "no progress on stderr (after 2 s: a bar on a terminal, else a line now and then)"},
         }},
    },
    .notes = "Progress (step, loss, tokens/s, ETA; evaluations and checkpoints) goes to stderr through the\n"
             "shared reporter: a bar on a terminal, plain lines otherwise, none with --quiet.\n"
             "SIGINT or SIGTERM finishes the current step, writes checkpoint-STEP.safetensors and\n"
             "exits with 130 or 143 (a second signal meanwhile is ignored, so no file is left half written).\n"
             "\n"
             "examples:\n"
             "  diffuser data --task listops --n 1024 --count 2000 --seed 1 --out data\n"
             "  diffuser train --config c.json --data data --steps 500 --out run --lr 5e-4 --warmup 50\n"
             "  diffuser train --config c.json --data data --steps 800 --out run --resume run/checkpoint-500.safetensors\n"
             "  diffuser predict --weights run/final.safetensors --config c.json --data data --split test\n"
             "\n"
             "exit status: 0 success, 1 bad data (files, config not fitting the data or the checkpoint, a loss\n"
             "that is not finite), 2 bad usage, 130 / 143 stopped by SIGINT / SIGTERM after a checkpoint.\n",
    .docs = "[EXPERIMENTS.md](EXPERIMENTS.md)",
    .run = &run_train,
    .order = 37,
});

}  // namespace

}  // namespace diffuser::cli
