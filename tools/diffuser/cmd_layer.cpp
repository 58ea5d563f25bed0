// `diffuser layer`: one Diffuser encoder layer on files. Forward X -> Y, optionally the backward
// (dY -> dX and the parameter gradients as safetensors), random initial weights for a config, and
// a timing mode (--bench, layer_bench.cpp).
#include <cstdio>
#include <optional>
#include <string>

#include <diffuser/attention/config.hpp>
#include <diffuser/attention/layer.hpp>
#include <diffuser/attention/model.hpp>
#include <diffuser/attention/params.hpp>
#include <diffuser/attention/safetensors.hpp>
#include <diffuser/engine/baselines.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/npy.hpp>
#include <diffuser/engine/ops.hpp>
#include <diffuser/engine/sys.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "cli.hpp"
#include "command_context.hpp"
#include "layer_bench.hpp"
#include "layer_io.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

namespace {

namespace fs = std::filesystem;
using namespace diffuser::attention;

// Non-finite results are reported with the stage that produced them (the inputs and weights were
// checked finite when read, so this is an overflow inside the layer).
void check_layer_finite(MatrixView<const float> m, const char* stage, const char* what) {
  const std::int64_t bad = ops::find_non_finite(tensor3_view(m.data, m.rows, m.cols, 1, m.device));
  if (bad < 0) return;
  throw Error(cat("stage '", stage, "' produced a non-finite value in ", what, " at [", bad / m.cols, ", ",
                  bad % m.cols, "] from finite inputs and weights: a value overflowed float32"));
}

int init_weights(Args& args, const ModelConfig& c, const fs::path& config_path, const fs::path& out) {
  const std::int64_t seed = args.get_int("seed", 0);
  if (seed < 0) throw UsageError(cat("--seed must be >= 0, got ", seed));
  const bool model = args.flag("model");
  const bool bf16 = args.flag("bf16");
  args.finish();
  check_outputs_not_inputs({{"config", config_path}}, {{"init-weights", out}});
  check_output_path(out, "init-weights");
  // The parameters, and the writer's copy of them.
  require_layer_memory(c, config_path, 0, 2, model);
  const auto storage = bf16 ? safetensors::Writer::Storage::bf16 : safetensors::Writer::Storage::f32;
  std::int64_t count = 0;
  if (model) {
    ModelParams p(c);
    init_model(p, c, static_cast<std::uint64_t>(seed));
    count = parameter_count(p, c);
    save_model(out, p, c, storage);
  } else {
    LayerParams p(LayerShape{c.hidden_size, c.num_attention_heads, c.intermediate_size});
    init_layer(p, c.initializer_range, static_cast<std::uint64_t>(seed), 0);
    count = parameter_count(p);
    safetensors::Writer w(storage);
    write_layer(w, p, "");
    w.set_metadata("format", "pt");
    w.set_metadata("producer", "diffuser layer --init-weights");
    w.write(out);
  }
  std::printf("wrote:    %s (%s, %s parameters, %s, seed %lld)\n", out.c_str(), model ? "model" : "one layer",
              group_digits(count).c_str(), bf16 ? "BF16" : "F32", static_cast<long long>(seed));
  return 0;
}

int run_layer_body(Args& args) {
  const fs::path config_path = args.require("config");
  const ModelConfig c = ModelConfig::load(config_path);
  if (args.flag("bench")) return run_layer_bench(args, c, config_path);
  if (auto w = args.get("init-weights")) return init_weights(args, c, config_path, *w);

  const fs::path weights_path = args.require("weights");
  const fs::path x_path = args.require("x");
  const fs::path out_path = args.require("out");
  const auto mask_arg = args.get("mask");
  const auto lengths_arg = args.get("lengths");
  const auto pattern_arg = args.get("pattern");
  const auto grad_out = args.get("grad-out");
  const auto grads_out = args.get("grads-out");
  const auto dx_out = args.get("dx-out");
  const std::int64_t layer = args.get_int("layer", 0);
  const bool train = args.flag("train");
  const std::int64_t seed = args.get_int("seed", 0);
  const auto hop_memory = args.get("hop-memory");
  const int head_groups = head_groups_option(args, c);
  const int threads = threads_option(args);
  const Device dev = backend_option(args).value_or(Device::cpu);
  args.finish();
  if (layer < 0 || layer >= c.num_hidden_layers)
    throw UsageError(cat("--layer must be in [0, ", c.num_hidden_layers, "), got ", layer));
  if (seed < 0) throw UsageError(cat("--seed must be >= 0, got ", seed));
  if ((grads_out || dx_out) && !grad_out) throw UsageError("--grads-out and --dx-out need --grad-out dY.npy");
  if (grad_out && !grads_out && !dx_out) throw UsageError("--grad-out needs --grads-out and/or --dx-out");
  if (mask_arg && lengths_arg) throw UsageError("give either --mask or --lengths, not both");
  LayerOptions o = LayerOptions::from_config(c);
  if (hop_memory) o.hop_memory = parse_hop_memory(*hop_memory);
  o.head_groups = head_groups;
  std::vector<std::pair<std::string, fs::path>> outputs{{"out", out_path}};
  if (grads_out) outputs.emplace_back("grads-out", *grads_out);
  if (dx_out) outputs.emplace_back("dx-out", *dx_out);
  check_distinct_outputs(outputs);
  std::vector<std::pair<std::string, fs::path>> inputs{
      {"config", config_path}, {"weights", weights_path}, {"x", x_path}};
  if (mask_arg) inputs.emplace_back("mask", *mask_arg);
  if (grad_out) inputs.emplace_back("grad-out", *grad_out);
  if (pattern_arg)
    for (const auto& t : graphs::parse_pattern(*pattern_arg))
      if (t.name == "file") inputs.emplace_back("pattern", t.path);
  check_outputs_not_inputs(inputs, outputs);
  for (const auto& [opt, p] : outputs) check_output_path(p, opt);
  require_device(dev);
  cli::CommandContext command_context(threads);

  // Parameters (and their gradients), before any of them is allocated; the tokens from X's header.
  const npy::Header x_header = npy::read_header(x_path);
  require_layer_memory(c, config_path,
                       static_cast<double>(x_header.numel()) / static_cast<double>(c.hidden_size),
                       grad_out ? 2 : 1);
  Stopwatch sw;
  const auto reader = safetensors::Reader::open(weights_path);
  const std::string prefix = find_layer_prefix(reader, static_cast<int>(layer));
  LayerParams p(o.shape());
  read_layer(reader, p, prefix);
  const double weights_ms = sw.ms();

  sw.reset();
  LayerInput in = load_layer_input(x_path, mask_arg ? std::optional<fs::path>(*mask_arg) : std::nullopt,
                                   lengths_arg ? std::optional(parse_lengths(*lengths_arg)) : std::nullopt,
                                   c.hidden_size);
  Buffer<float> dy;
  if (grad_out) dy = load_like(*grad_out, in.shape, "dY");
  const double load_ms = sw.ms();

  sw.reset();
  const std::string pattern = pattern_arg ? *pattern_arg : c.pattern_for_layer(static_cast<int>(layer));
  GraphBatch batch = GraphBatch::from_lengths(in.lengths, pattern, c.graph_seed);
  if (!in.mask.empty()) batch.mask = Buffer<std::uint8_t>::from_host(in.mask);
  if (expensive_checks()) batch.graph.validate();
  const double graph_ms = sw.ms();

  std::printf("layer:    %s, d_model %lld, %lld heads, intermediate %lld, %s, %s\n",
              prefix.empty() ? "bare layer" : prefix.c_str(), static_cast<long long>(o.d_model),
              static_cast<long long>(o.heads), static_cast<long long>(o.intermediate),
              o.pre_layer_norm ? "pre-LN" : "post-LN", o.coefficients.describe().c_str());
  std::printf("graph:    %s, %s edges\n", batch.description.c_str(),
              group_digits(batch.graph.num_edges()).c_str());
  std::printf("input:    %s %s%s\n", x_path.c_str(), shape_text(in.shape).c_str(),
              in.mask.empty() ? "" : ", with padding mask");
  std::printf("mode:     %s\n",
              train ? cat("training (dropout on, seed ", seed, ")").c_str() : "inference (no dropout)");
  std::printf("device:   %s (%s)\n", device_name(dev), describe_device(dev).c_str());
  if (grad_out) {
    const int groups = attention_head_groups(o, in.tokens, batch.graph.num_edges());
    std::printf("backward: %d head group%s of %lld head%s (%s)\n", groups, groups == 1 ? "" : "s",
                static_cast<long long>(o.heads / groups), o.heads / groups == 1 ? "" : "s",
                o.head_groups > 0 ? "--head-groups" : "automatic");
  }

  // The layer runs where its operands live: on the GPU, the parameters, graph, X and dY move there
  // once, and Y, dX and the gradients come back once at the end.
  const std::int64_t T = in.tokens, d = c.hidden_size;
  const RunMode mode{train, static_cast<std::uint64_t>(seed), static_cast<int>(layer)};
  require_memory(grad_out ? layer_step_peak_bytes(o, T, batch.graph.num_edges())
                          : layer_forward_peak_bytes(o, T, batch.graph.num_edges()),
                 cat("layer ", grad_out ? "training step" : "forward", " on ", T, " tokens and ",
                     batch.graph.num_edges(), " edges (", config_path.string(), ")"));
  sw.reset();
  const bool on_gpu = dev != Device::cpu;
  if (on_gpu) {
    p = p.to(dev);
    batch = batch.to(dev);
    in.x = in.x.to(dev);
    if (grad_out) dy = dy.to(dev);
  }
  const double upload_ms = sw.ms();
  const MatrixView<const float> x{in.x.data(), T, d, dev};
  Matrix<float> y(T, d, dev);
  LayerCache cache;
  LayerTimes times;
  synchronize(dev);
  sw.reset();
  layer_forward(o, p, batch, x, y.view(), mode, grad_out ? &cache : nullptr, &times);
  synchronize(dev);
  const double forward_ms = sw.ms();
  check_layer_finite(y.view(), "forward", "the output Y");
  double backward_ms = 0;
  Matrix<float> dx;
  LayerParams g;
  if (grad_out) {
    g = LayerParams(o.shape(), dev);
    zero(g);
    dx = Matrix<float>(T, d, dev);
    synchronize(dev);
    sw.reset();
    layer_backward(o, p, batch, x, cache, MatrixView<const float>{dy.data(), T, d, dev}, dx.view(), g, mode,
                   &times);
    synchronize(dev);
    backward_ms = sw.ms();
    check_layer_finite(dx.view(), "backward", "the input gradient dX");
    for (const Linear* l : {&g.qkv, &g.attn_out, &g.ffn_in, &g.ffn_out})
      check_layer_finite(l->w.view(), "backward", "a weight gradient");
  }
  cache = LayerCache();

  sw.reset();
  const std::vector<float> y_host = y.buffer().to_vector();
  const std::vector<float> dx_host = dx_out ? dx.buffer().to_vector() : std::vector<float>();
  if (grads_out && on_gpu) g = g.to(Device::cpu);
  OutputSet files;
  files.write(out_path, "out", [&](const fs::path& staged) { npy::save(staged, y_host.data(), in.shape); });
  if (dx_out)
    files.write(*dx_out, "dx-out",
                [&](const fs::path& staged) { npy::save(staged, dx_host.data(), in.shape); });
  if (grads_out) {
    safetensors::Writer w;
    write_layer(w, g, "");
    w.set_metadata("format", "pt");
    w.set_metadata("producer", "diffuser layer --grads-out");
    w.set_metadata("layer", std::to_string(layer));
    files.write(*grads_out, "grads-out", [&](const fs::path& staged) { w.write(staged); });
  }
  files.commit();
  const double write_ms = sw.ms();

  std::printf("stage times:\n");
  print_stage("weights", weights_ms);
  print_stage("load", load_ms);
  print_stage("graph", graph_ms);
  if (on_gpu) print_stage("to device", upload_ms);
  print_stage("forward", forward_ms);
  if (grad_out) print_stage("backward", backward_ms);
  print_stage("  products", times.gemm_ms);
  print_stage("  graph fwd", times.graph_forward_ms);
  if (grad_out) print_stage("  graph bwd", times.graph_backward_ms);
  print_stage("  elementwise", times.elementwise_ms);
  print_stage("write", write_ms);
  std::printf("peak RSS: %s\n", format_bytes(peak_rss_bytes()).c_str());
  if (on_gpu) std::printf("peak GPU memory: %s\n", format_bytes(baselines::peak_device_bytes()).c_str());
  std::printf("wrote:    %s", out_path.c_str());
  if (dx_out) std::printf(", %s", dx_out->c_str());
  if (grads_out) std::printf(", %s", grads_out->c_str());
  std::printf("\n");
  return 0;
}

int run_layer(Args& args) {
  return with_one_line_errors(args, &run_layer_body);
}

const Registrar reg({
    .name = "layer",
    .summary = "one Diffuser encoder layer on .npy files: forward, backward, init weights, --bench",
    .usage = {"--config C.json --weights W.safetensors [--layer I] --x X.npy --out Y.npy",
              "[--mask M.npy | --lengths L1,L2,..] [--pattern SPEC]",
              "[--grad-out dY.npy [--grads-out G.safetensors] [--dx-out dX.npy]]",
              "[--train] [--seed S] [--hop-memory store|recompute|keep] [--head-groups G]",
              "[--threads T] [--backend cpu|cuda]",
              "diffuser layer --config C.json --init-weights W.safetensors [--seed S] [--model] [--bf16]",
              "diffuser layer --config C.json --bench [--n N] [options of --bench below]"},
    .about = "One Diffuser encoder layer (the authors' DiffuserLayer): Q, K, V projections, scores on the graph's\n"
             "edges (scale 1/sqrt(D)), edge softmax with the padding mask, K-hop diffusion, output projection,\n"
             "residual + LayerNorm, feed-forward (GELU, erf form) + residual + LayerNorm. Post-LN as the authors;\n"
             "\"pre_layer_norm\": true in the config selects pre-LN.\n"
             "\n"
             "config (JSON, the authors' config.json keys): hidden_size, num_attention_heads, intermediate_size,\n"
             "  attention_window, num_rand, num_glob, hidden_dropout_prob, attention_probs_dropout_prob,\n"
             "  layer_norm_eps, ... plus graph_pattern (default blocks:W+random:R+global-random:G from the window,\n"
             "  num_rand, num_glob), graph_seed, diffusion_hops (5), diffusion_alpha (0.1), diffusion_heat_t,\n"
             "  diffusion_theta, attention_hop_dropout_prob, pre_layer_norm. See docs/LAYER.md.\n",
    .options = {
        {"inputs",
         {
          {.label = "--config C.json", .help = "the layer's or model's config (above)", .required = true},
          {.label = "--weights W.safetensors",
           .help = "the layer's tensors, named as in Hugging Face RoBERTa (attention.self.query.weight, ...), bare or under encoder.layer.I."},
          {.label = "--layer I",
           .help = "which layer of a model file (and which attention_window) (default 0)", .type = Option::Type::integer},
          {.label = "--x X.npy",
           .help = "(N, d_model) one sequence, (B, N, d_model) a padded batch, or (T, d_model) with --lengths: sequences of those lengths side by side (block-diagonal graph)"},
          {.label = "--lengths L1,L2,..",
           .help = "with a (T, d_model) X: the lengths of the sequences side by side (they sum to T)"},
          {.label = "--mask M.npy",
           .help = "nonzero = real token: (N,), (B, N) or (T,)"},
          {.label = "--pattern SPEC",
           .help = "the graph pattern instead of the config's (same for every sequence)"},
         }},
        {"outputs (written only when the whole run succeeds)",
         {
          {.label = "--out Y.npy",
           .help = "the layer output, shaped like X, float32"},
          {.label = "--grad-out dY.npy",
           .help = "dL/dY (shaped like X): runs the backward too"},
          {.label = "--grads-out G.safetensors",
           .help = "the parameter gradients, under the weights' names (needs --grad-out)"},
          {.label = "--dx-out dX.npy",
           .help = "dL/dX (needs --grad-out)"},
         }},
        {"mode",
         {
          {.label = "--train",
           .help = "dropout on (the config's probabilities; masks from --seed, regenerated in the backward); default: inference, no dropout"},
          {.label = "--seed S",
           .help = "dropout seed, and the seed of --init-weights (default 0)", .type = Option::Type::integer},
          {.label = "--hop-memory M",
           .help = "how the backward gets the K-1 hop states: store (default) recomputes them once and holds them; recompute holds 2 buffers (K(K-1)/2 hops); keep takes them and the weights from the forward (no recompute, held from forward to backward)"},
          {.label = "--head-groups G",
           .help = "the attention backward runs G groups of heads one after another, so its graph-sized buffers (per-edge weights and their gradient, hop buffers) hold H/G heads; same results. G divides the head count; 1 = all at once; 0 (default) = automatic: the fewest groups whose transient fits the packed QKV gradient (T x 3 d_model floats)", .type = Option::Type::integer},
          {.label = "--threads T",
           .help = "CPU worker threads (default: all)", .type = Option::Type::integer},
          {.label = "--backend cpu|cuda",
           .help = "where the layer runs (default cpu); cuda: the weights, graph and arrays move to the GPU once, the results come back once at the end"},
         }},
        {"initial weights",
         {
          {.label = "--init-weights W.safetensors",
           .help = "writes random weights as the authors' _init_weights (normal with initializer_range, zero biases, LayerNorm 1/0) for one layer, or with --model for the whole stack (embeddings, num_hidden_layers layers, head)"},
          {.label = "--model",
           .help = "the whole stack: embeddings, num_hidden_layers layers, classification head"},
          {.label = "--bf16",
           .help = "store them as BF16 (default F32)"},
         }},
        layer_bench_option_group(),
    },
    .notes = "examples:\n"
             "  diffuser layer --config c.json --init-weights w.safetensors --seed 1\n"
             "  diffuser layer --config c.json --weights w.safetensors --x x.npy --out y.npy\n"
             "  diffuser layer --config c.json --weights w.safetensors --x x.npy --out y.npy --train --seed 7 \\\n"
             "                 --grad-out dy.npy --grads-out g.safetensors --dx-out dx.npy\n"
             "  diffuser layer --config c.json --bench --n 4096\n"
             "\n"
             "exit status: 0 success, 1 bad data (file, shape, dtype, missing tensor, NaN), 2 bad usage.\n",
    .docs = "[LAYER.md](LAYER.md)",
    .run = &run_layer,
    .order = 35,
});

}  // namespace

}  // namespace diffuser::cli
