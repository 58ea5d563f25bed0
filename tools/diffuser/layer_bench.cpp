// The layer benchmark: medians over --reps runs after one warm-up, per-stage sums from LayerTimes, on
// the CPU or the GPU (--backend cuda: parameters, graph and inputs moved to the device once, every
// buffer of the layer allocated there; runs timed with the device drained; peak device memory).
#include <cstdio>
#include <fstream>
#include <optional>
#include <vector>

#include <diffuser/attention/layer.hpp>
#include <diffuser/attention/params.hpp>
#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/baselines.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/dense.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/engine/sys.hpp>

#include "command_context.hpp"
#include "json_out.hpp"
#include "layer_bench.hpp"
#include "layer_io.hpp"
#include "progress.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

OptionGroup layer_bench_option_group() {
  using T = Option::Type;
  return {"--bench (timing mode; random X, and random weights unless --weights is given)",
          {{.label = "--bench", .help = "time a forward and a training step instead of computing on files"},
           {.label = "--n N",
            .help = "tokens of the one sequence (default 4096); the graph is the config's pattern",
            .type = T::integer,
            .min = 1,
            .max = static_cast<double>(kMaxNodes)},
           {.label = "--pattern SPEC", .help = "another graph pattern; --weights W.safetensors: the weights to time with"},
           {.label = "--reps R",
            .help = "timed repetitions after one warm-up (default 3); medians are printed",
            .type = T::integer,
            .min = 1,
            .max = 1000},
           {.label = "--eval", .help = "time the inference forward only"},
           {.label = "--no-dropout", .help = "training step without dropout (default: the config's probabilities)"},
           {.label = "--hop-memory M", .help = "store (default), recompute or keep (see above)"},
           {.label = "--head-groups G",
            .help = "head groups of the attention backward (see above; default automatic)",
            .type = T::integer},
           {.label = "--backend cpu|cuda",
            .help = "where the layer runs (default cpu); cuda: cuBLAS products, the graph passes and every buffer "
                    "on the GPU, and the peak device memory of a training step"},
           {.label = "--gemm blas|blocked",
            .help = "the CPU's matrix product: OpenBLAS (default) or the plain blocked loop"},
           {.label = "--gemm-compare",
            .help = "also time the layer's six product shapes (CPU: both products; cuda: cuBLAS)"},
           {.label = "--json FILE",
            .help = "write the results as JSON (scripts/layer/compare_gpu.py reads it), with the build (commit, "
                    "compiler, flags, CPU level, CUDA device)"},
           {.label = "--quiet",
            .help = "no progress on stderr (after 2 s: a bar on a terminal, else a line now and then)"}}};
}

namespace {

using namespace diffuser::attention;

struct Sample {
  double forward_ms = 0, step_ms = 0;
  LayerTimes fwd, step;
};

double med(const std::vector<Sample>& s, double (*f)(const Sample&)) {
  std::vector<double> v;
  for (const auto& x : s) v.push_back(f(x));
  return median(v);
}

Matrix<float> on_device(const Matrix<float>& m, Device d) {
  Matrix<float> r(m.rows(), m.cols(), d);
  device_copy(r.buffer().data(), d, m.buffer().data(), m.device(), m.buffer().bytes());
  return r;
}

// GFLOP/s of the layer's product shapes: on the CPU under both products, on the GPU with cuBLAS.
void gemm_compare(std::int64_t T, std::int64_t d, std::int64_t I, Device dev, std::FILE* out) {
  struct Shape {
    const char* name;
    bool ta, tb;
    std::int64_t m, n, k;
  };
  const Shape shapes[] = {
      {"QKV  x W^T     ", false, true, T, 3 * d, d}, {"out  z W^T     ", false, true, T, d, d},
      {"FFN1 h W1^T    ", false, true, T, I, d},     {"FFN2 a W2^T    ", false, true, T, d, I},
      {"dX   dY W      ", false, false, T, d, I},    {"dW   dY^T X    ", true, false, I, d, T}};
  std::fprintf(out, "matrix products (GFLOP/s, median of 3):\n");
  for (const auto& s : shapes) {
    Matrix<float> a(s.ta ? s.k : s.m, s.ta ? s.m : s.k), b(s.tb ? s.n : s.k, s.tb ? s.k : s.n);
    for (std::int64_t i = 0; i < a.buffer().size(); ++i)
      a.buffer()[i] = static_cast<float>(rng::uniform(1, 1, static_cast<std::uint64_t>(i))) - 0.5f;
    for (std::int64_t i = 0; i < b.buffer().size(); ++i)
      b.buffer()[i] = static_cast<float>(rng::uniform(1, 2, static_cast<std::uint64_t>(i))) - 0.5f;
    const Matrix<float> ad = on_device(a, dev), bd = on_device(b, dev);
    Matrix<float> c(s.m, s.n, dev);
    const int kinds = dev == Device::cpu ? 2 : 1;
    double rate[2] = {0, 0};
    for (int be = 0; be < kinds; ++be) {
      ContextOptions o = current_context().options();
      o.cpu.gemm = be == 0 ? CpuGemm::blas : CpuGemm::blocked;
      const Context ctx(o);
      ContextScope scope(ctx);
      std::vector<double> t;
      for (int r = 0; r < 4; ++r) {
        synchronize(dev);
        Stopwatch sw;
        diffuser::dense::gemm(s.ta, s.tb, 1.0f, ad.view(), bd.view(), 0.0f, c.view());
        synchronize(dev);
        if (r > 0) t.push_back(sw.seconds());
      }
      rate[be] = 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k) /
                 median(t) / 1e9;
    }
    if (dev == Device::cpu)
      std::fprintf(out, "  %s (%lld x %lld x %lld): openblas %7.1f   blocked %7.1f   ratio %.1fx\n", s.name,
                   static_cast<long long>(s.m), static_cast<long long>(s.n), static_cast<long long>(s.k),
                   rate[0], rate[1], rate[0] / rate[1]);
    else
      std::fprintf(out, "  %s (%lld x %lld x %lld): cublas %8.1f\n", s.name, static_cast<long long>(s.m),
                   static_cast<long long>(s.n), static_cast<long long>(s.k), rate[0]);
  }
}

}  // namespace

int head_groups_option(Args& args, const ModelConfig& c) {
  const std::int64_t g = args.get_int("head-groups", 0);
  const std::int64_t H = c.num_attention_heads;
  if (g < 0 || g > H || (g > 0 && H % g != 0))
    throw UsageError(cat("--head-groups must be 0 (automatic) or a divisor of the ", H, " heads, got ", g));
  return static_cast<int>(g);
}

int run_layer_bench(Args& args, const ModelConfig& c, const std::filesystem::path& config_path) {
  const std::int64_t n = args.get_int("n", 4096);
  const std::int64_t reps = args.get_int("reps", 3);
  const bool eval_only = args.flag("eval");
  const bool no_dropout = args.flag("no-dropout");
  const auto gemm = args.get("gemm");
  const bool compare = args.flag("gemm-compare");
  const auto json_out = args.get("json");
  const auto weights = args.get("weights");
  const auto pattern_arg = args.get("pattern");
  const std::int64_t seed = args.get_int("seed", 0);
  const auto hop_memory = args.get("hop-memory");
  const int head_groups = head_groups_option(args, c);
  const int threads = threads_option(args);
  const Device dev = backend_option(args).value_or(Device::cpu);
  const bool quiet = args.flag("quiet");
  args.finish();
  std::optional<CpuGemm> gemm_kind;
  if (gemm) {
    if (dev != Device::cpu)
      throw UsageError("--gemm chooses the CPU's product; the cuda backend uses cuBLAS");
    if (*gemm == "blas")
      gemm_kind = CpuGemm::blas;
    else if (*gemm == "blocked")
      gemm_kind = CpuGemm::blocked;
    else
      throw UsageError(cat("--gemm must be blas or blocked, got '", *gemm, "'"));
  }
  if (json_out) check_output_path(*json_out, "json");
  require_device(dev);
  // Before the graph is built: an impossible N is refused at once.
  require_layer_memory(c, config_path, static_cast<double>(n), 2);
  cli::CommandContext command_context(threads);
  std::optional<Context> gemm_context;  // --gemm: the CPU's product for this run
  std::optional<ContextScope> gemm_scope;
  if (gemm_kind) {
    ContextOptions o = current_context().options();
    o.cpu.gemm = *gemm_kind;
    gemm_context.emplace(o);
    gemm_scope.emplace(*gemm_context);
  }
  LayerOptions o = LayerOptions::from_config(c);
  if (hop_memory) o.hop_memory = parse_hop_memory(*hop_memory);
  o.head_groups = head_groups;
  if (no_dropout) o.p_hidden = o.p_attn_weights = o.p_attn_hops = 0.0f;

  LayerParams host_params(o.shape());
  if (weights) {
    const auto r = safetensors::Reader::open(*weights);
    read_layer(r, host_params, find_layer_prefix(r, 0));
  } else {
    init_layer(host_params, c.initializer_range, static_cast<std::uint64_t>(seed), 0);
  }
  const std::string pattern = pattern_arg ? *pattern_arg : c.pattern_for_layer(0);
  Stopwatch sw;
  GraphBatch host_batch = GraphBatch::from_lengths({n}, pattern, c.graph_seed);
  const double graph_ms = sw.ms();
  const std::int64_t d = o.d_model;
  Matrix<float> hx(n, d), hdy(n, d);
  for (std::int64_t i = 0; i < n * d; ++i) {
    hx.buffer()[i] =
        static_cast<float>(rng::normal(static_cast<std::uint64_t>(seed), 11, static_cast<std::uint64_t>(i)));
    hdy.buffer()[i] =
        static_cast<float>(rng::normal(static_cast<std::uint64_t>(seed), 12, static_cast<std::uint64_t>(i)));
  }
  // Everything the layer reads moves to the device once, before any timing.
  const bool on_gpu = dev != Device::cpu;
  const LayerParams p = on_gpu ? host_params.to(dev) : std::move(host_params);
  const GraphBatch batch = on_gpu ? host_batch.to(dev) : std::move(host_batch);
  const Matrix<float> x = on_gpu ? on_device(hx, dev) : std::move(hx);
  const Matrix<float> dy = on_gpu ? on_device(hdy, dev) : std::move(hdy);
  Matrix<float> y(n, d, dev), dx(n, d, dev);

  std::printf("layer bench: d_model %lld, %lld heads (D = %lld), intermediate %lld, %s, %s\n",
              static_cast<long long>(d), static_cast<long long>(o.heads),
              static_cast<long long>(o.head_dim()), static_cast<long long>(o.intermediate),
              o.pre_layer_norm ? "pre-LN" : "post-LN", o.coefficients.describe().c_str());
  std::printf("graph:       pattern '%s' N=%lld: %s edges (%.1f per token), built in %.1f ms\n",
              pattern.c_str(), static_cast<long long>(n), group_digits(batch.graph.num_edges()).c_str(),
              static_cast<double>(batch.graph.num_edges()) / static_cast<double>(n), graph_ms);
  std::printf("machine:     %s; backend %s; products: %s; CPU threads %d\n", describe_device(dev).c_str(),
              device_name(dev), diffuser::dense::gemm_name(dev), current_context().cpu_threads());
  std::printf(
      "dropout:     %s\n",
      eval_only ? "off (inference)"
      : no_dropout
          ? "off (training step without dropout)"
          : cat("hidden ", o.p_hidden, ", weights ", o.p_attn_weights, ", hops ", o.p_attn_hops).c_str());
  std::fflush(stdout);

  // On the GPU the per-stage split needs a device drain per stage: the timed runs go without it and one
  // extra run gives the split. On the CPU every run gives both.
  LayerTimes* no_times = nullptr;
  auto training_step = [&](std::uint64_t step_seed, LayerTimes* t) {
    LayerParams g(o.shape(), dev);
    zero(g);
    LayerCache cache;
    const RunMode mode{true, step_seed, 0};
    synchronize(dev);
    Stopwatch timer;
    layer_forward(o, p, batch, x.view(), y.view(), mode, &cache, t);
    layer_backward(o, p, batch, x.view(), cache, dy.view(), dx.view(), g, mode, t);
    synchronize(dev);
    return timer.ms();
  };
  std::vector<Sample> samples;
  Progress progress("layer", progress_style(quiet));
  progress.stage("runs", static_cast<double>(reps + 1));
  for (std::int64_t r = 0; r <= reps; ++r) {
    progress.update(static_cast<double>(r), r == 0 ? std::string("warm-up") : cat("run ", r, "/", reps));
    Sample s;
    synchronize(dev);
    Stopwatch t;
    layer_forward(o, p, batch, x.view(), y.view(), RunMode{false, 0, 0}, nullptr, on_gpu ? no_times : &s.fwd);
    synchronize(dev);
    s.forward_ms = t.ms();
    if (!eval_only)
      s.step_ms = training_step(static_cast<std::uint64_t>(seed + r), on_gpu ? no_times : &s.step);
    if (r > 0) samples.push_back(s);  // r = 0 warms up
  }
  progress.finish();
  // Peak device memory of one training step above what was held before it (parameters, graph, x, dy,
  // the cuBLAS workspace): the step's buffers, its outputs y and dx and the gradients included.
  std::int64_t peak_step_bytes = 0, held_bytes = 0, peak_forward_bytes = 0;
  if (on_gpu) {
    y = Matrix<float>();
    dx = Matrix<float>();
    synchronize(dev);
    held_bytes = baselines::device_bytes_in_use();
    baselines::reset_peak_device_bytes();
    {
      Matrix<float> yi(n, d, dev);
      layer_forward(o, p, batch, x.view(), yi.view(), RunMode{false, 0, 0}, nullptr, &samples[0].fwd);
    }
    synchronize(dev);
    peak_forward_bytes = baselines::peak_device_bytes() - held_bytes;
    for (auto& s : samples) s.fwd = samples[0].fwd;
    if (!eval_only) {
      baselines::reset_peak_device_bytes();
      y = Matrix<float>(n, d, dev);
      dx = Matrix<float>(n, d, dev);
      LayerTimes split;
      training_step(static_cast<std::uint64_t>(seed), &split);
      peak_step_bytes = baselines::peak_device_bytes() - held_bytes;
      for (auto& s : samples) s.step = split;
    }
  }
  const double fwd = med(samples, [](const Sample& s) { return s.forward_ms; });
  const double step = med(samples, [](const Sample& s) { return s.step_ms; });
  auto m = [&](double (*f)(const Sample&)) { return med(samples, f); };
  const char* split_note = on_gpu ? " (split from one run drained after each stage)" : "";
  std::printf("\nforward (inference):          %9.1f ms   products %.1f, graph %.1f, elementwise %.1f%s\n",
              fwd, m([](const Sample& s) { return s.fwd.gemm_ms; }),
              m([](const Sample& s) { return s.fwd.graph_forward_ms; }),
              m([](const Sample& s) { return s.fwd.elementwise_ms; }), split_note);
  const double st_gemm = m([](const Sample& s) { return s.step.gemm_ms; });
  const double st_gf = m([](const Sample& s) { return s.step.graph_forward_ms; });
  const double st_gb = m([](const Sample& s) { return s.step.graph_backward_ms; });
  const double st_ew = m([](const Sample& s) { return s.step.elementwise_ms; });
  const double bw_w = m([](const Sample& s) { return s.step.diffusion.weights_ms; });
  const double bw_hf = m([](const Sample& s) { return s.step.diffusion.hop_forward_ms; });
  const double bw_hb = m([](const Sample& s) { return s.step.diffusion.hop_backward_ms; });
  const double bw_sc = m([](const Sample& s) { return s.step.diffusion.scores_ms; });
  if (!eval_only) {
    const double split_total = on_gpu ? st_gemm + st_gf + st_gb + st_ew : step;
    std::printf("forward + backward (training): %8.1f ms%s\n", step, split_note);
    std::printf("  products (GEMM, fwd + bwd)   %9.1f ms  %5.1f%%\n", st_gemm, 100 * st_gemm / split_total);
    std::printf("  graph forward                %9.1f ms  %5.1f%%\n", st_gf, 100 * st_gf / split_total);
    std::printf("  graph backward               %9.1f ms  %5.1f%%\n", st_gb, 100 * st_gb / split_total);
    std::printf("    weights recomputed         %9.1f ms\n", bw_w);
    std::printf("    hop inputs recomputed      %9.1f ms\n", bw_hf);
    std::printf("    hop backward (K passes)    %9.1f ms\n", bw_hb);
    std::printf("    softmax + score backward   %9.1f ms\n", bw_sc);
    std::printf("  elementwise (LN, GELU, ...)  %9.1f ms  %5.1f%%\n", st_ew, 100 * st_ew / split_total);
  }
  const std::int64_t E = batch.graph.num_edges();
  const std::int64_t cache_bytes = layer_cache_bytes(o, n, E);
  const std::int64_t peak_bytes = layer_backward_peak_bytes(o, n, E);
  const int groups = attention_head_groups(o, n, E);
  const int hops = diffusion::hop_plan(o.coefficients).hops();
  const std::int64_t diff_bytes =
      diffusion::backward_bytes(n, E, o.heads, o.head_dim(), hops, o.hop_memory, groups);
  const std::int64_t diff_whole = diffusion::backward_bytes(n, E, o.heads, o.head_dim(), hops, o.hop_memory);
  // What a training step allocates above what it finds (the bench's y, dx and gradients included):
  // the estimate of the measured "peak above held" below.
  const std::int64_t step_bytes = layer_step_peak_bytes(o, n, E) + 2 * n * d * 4 + parameter_count(p) * 4;
  std::printf(
      "memory: kept for the backward %s per layer; backward transient %s (estimate); reverse graph %s; peak "
      "RSS "
      "%s\n",
      format_bytes(cache_bytes).c_str(), format_bytes(peak_bytes).c_str(),
      format_bytes(batch.reverse.bytes()).c_str(), format_bytes(peak_rss_bytes()).c_str());
  std::printf(
      "head groups: %d of %lld heads each (%s); diffusion backward transient %s (all heads at once: %s; "
      "automatic budget %s)\n",
      groups, static_cast<long long>(o.heads / groups), o.head_groups > 0 ? "--head-groups" : "automatic",
      format_bytes(diff_bytes).c_str(), format_bytes(diff_whole).c_str(),
      format_bytes(head_group_budget_bytes(o, n)).c_str());
  std::printf(
      "estimated training-step peak above held: %s (forward %s; cache + backward %s; y, dx, gradients "
      "%s)\n",
      format_bytes(step_bytes).c_str(), format_bytes(layer_forward_peak_bytes(o, n, E)).c_str(),
      format_bytes(cache_bytes + peak_bytes).c_str(),
      format_bytes(2 * n * d * 4 + parameter_count(p) * 4).c_str());
  if (on_gpu)
    std::printf(
        "device memory: held before a step %s (parameters, graph, x, dy, cuBLAS workspace); peak above "
        "that: forward %s, training step %s\n",
        format_bytes(held_bytes).c_str(), format_bytes(peak_forward_bytes).c_str(),
        format_bytes(peak_step_bytes).c_str());
  if (compare) gemm_compare(n, d, o.intermediate, dev, stdout);
  if (json_out) {
    Json j;
    j["impl"] = cat("diffuser-", device_name(dev));
    j["backend"] = device_name(dev);
    j["n"] = n;
    j["d_model"] = d;
    j["heads"] = o.heads;
    j["intermediate"] = o.intermediate;
    j["edges"] = batch.graph.num_edges();
    j["hops"] = o.coefficients.hops();
    j["reps"] = reps;
    j["forward_ms"] = fwd;
    j["step_ms"] = eval_only ? Json(nullptr) : Json(step);
    j["gemm_ms"] = st_gemm;
    j["graph_forward_ms"] = st_gf;
    j["graph_backward_ms"] = st_gb;
    j["elementwise_ms"] = st_ew;
    j["peak_rss_bytes"] = peak_rss_bytes();
    j["peak_device_bytes"] = peak_step_bytes;
    j["peak_forward_device_bytes"] = peak_forward_bytes;
    j["held_device_bytes"] = held_bytes;
    j["head_groups"] = groups;
    j["estimated_step_bytes"] = step_bytes;
    j["products"] = diffuser::dense::gemm_name(dev);
    j["threads"] = current_context().cpu_threads();
    j["device"] = describe_device(dev);
    j["build"] = build_info(dev);
    AtomicOutput f(*json_out, false);
    f.stream() << dump_json(j) << "\n";
    f.commit();
  }
  return 0;
}

}  // namespace diffuser::cli
