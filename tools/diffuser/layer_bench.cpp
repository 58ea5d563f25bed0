// The layer benchmark: medians over --reps runs after one warm-up, per-stage sums from LayerTimes.
#include <cstdio>
#include <fstream>
#include <vector>

#include <diffuser/attention/dense.hpp>
#include <diffuser/attention/layer.hpp>
#include <diffuser/attention/params.hpp>
#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/engine/sys.hpp>
#include <diffuser/engine/threads.hpp>

#include "layer_bench.hpp"
#include "layer_io.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

const char* const kLayerBenchHelp =
    "--bench (timing mode; random X, and random weights unless --weights is given):\n"
    "  --n N                  tokens of the one sequence (default 4096); the graph is the config's pattern\n"
    "  --pattern SPEC         another graph pattern; --weights W.safetensors: the weights to time with\n"
    "  --reps R               timed repetitions after one warm-up (default 3); medians are printed\n"
    "  --eval                 time the inference forward only\n"
    "  --no-dropout           training step without dropout (default: the config's probabilities)\n"
    "  --hop-memory M         store (default), recompute or keep (see above)\n"
    "  --gemm blas|blocked    the matrix product: OpenBLAS (default) or the plain blocked loop\n"
    "  --gemm-compare         also time the layer's six product shapes with both\n"
    "  --json FILE            write the results as JSON (scripts/layer/compare_gpu.py reads it)\n"
    "  --backend cpu          (cuda: not in this build; see docs/LAYER.md)\n";

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

// GFLOP/s of the layer's product shapes under both backends.
void gemm_compare(std::int64_t T, std::int64_t d, std::int64_t I, std::FILE* out) {
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
    std::vector<float> a(static_cast<std::size_t>(s.m * s.k)), b(static_cast<std::size_t>(s.k * s.n)),
        c(static_cast<std::size_t>(s.m * s.n));
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(rng::uniform(1, 1, i)) - 0.5f;
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(rng::uniform(1, 2, i)) - 0.5f;
    double rate[2];
    for (int be = 0; be < 2; ++be) {
      dense::set_gemm_backend(be == 0 ? dense::GemmBackend::blas : dense::GemmBackend::blocked);
      std::vector<double> t;
      for (int r = 0; r < 4; ++r) {
        Stopwatch sw;
        dense::gemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, a.data(), s.ta ? s.m : s.k, b.data(), s.tb ? s.k : s.n,
                    0.0f, c.data(), s.n);
        if (r > 0) t.push_back(sw.seconds());
      }
      rate[be] = 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k) /
                 median(t) / 1e9;
    }
    std::fprintf(out, "  %s (%lld x %lld x %lld): openblas %7.1f   blocked %7.1f   ratio %.1fx\n", s.name,
                 static_cast<long long>(s.m), static_cast<long long>(s.n), static_cast<long long>(s.k),
                 rate[0], rate[1], rate[0] / rate[1]);
  }
  dense::set_gemm_backend(dense::GemmBackend::blas);
}

}  // namespace

int run_layer_bench(Args& args, const ModelConfig& c) {
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
  const int threads = threads_option(args);
  if (auto dev = backend_option(args); dev && *dev != Device::cpu)
    throw Error(
        "the layer benchmark runs on the CPU in this build (the GPU layer needs the engine's dense "
        "primitives on CUDA; see docs/LAYER.md)");
  args.finish();
  if (n <= 0 || n > kMaxNodes) throw UsageError(cat("--n must be in [1, ", kMaxNodes, "], got ", n));
  if (reps < 1 || reps > 1000) throw UsageError(cat("--reps must be in [1, 1000], got ", reps));
  if (gemm) {
    if (*gemm == "blas")
      dense::set_gemm_backend(dense::GemmBackend::blas);
    else if (*gemm == "blocked")
      dense::set_gemm_backend(dense::GemmBackend::blocked);
    else
      throw UsageError(cat("--gemm must be blas or blocked, got '", *gemm, "'"));
  }
  if (json_out) check_output_path(*json_out, "json");
  ThreadLimit limit(threads);
  LayerOptions o = LayerOptions::from_config(c);
  if (hop_memory) o.hop_memory = parse_hop_memory(*hop_memory);
  if (no_dropout) o.p_hidden = o.p_attn_weights = o.p_attn_hops = 0.0f;

  LayerParams p(o.shape());
  if (weights) {
    const auto r = safetensors::Reader::open(*weights);
    read_layer(r, p, find_layer_prefix(r, 0));
  } else {
    init_layer(p, c.initializer_range, static_cast<std::uint64_t>(seed), 0);
  }
  const std::string pattern = pattern_arg ? *pattern_arg : c.pattern_for_layer(0);
  Stopwatch sw;
  GraphBatch batch = GraphBatch::from_lengths({n}, pattern, c.graph_seed);
  const double graph_ms = sw.ms();
  const std::int64_t d = o.d_model;
  Matrix<float> x(n, d), y(n, d), dy(n, d), dx(n, d);
  for (std::int64_t i = 0; i < n * d; ++i) {
    x.buffer()[i] =
        static_cast<float>(rng::normal(static_cast<std::uint64_t>(seed), 11, static_cast<std::uint64_t>(i)));
    dy.buffer()[i] =
        static_cast<float>(rng::normal(static_cast<std::uint64_t>(seed), 12, static_cast<std::uint64_t>(i)));
  }
  std::printf("layer bench: d_model %lld, %lld heads (D = %lld), intermediate %lld, %s, %s\n",
              static_cast<long long>(d), static_cast<long long>(o.heads),
              static_cast<long long>(o.head_dim()), static_cast<long long>(o.intermediate),
              o.pre_layer_norm ? "pre-LN" : "post-LN", o.coefficients.describe().c_str());
  std::printf("graph:       pattern '%s' N=%lld: %s edges (%.1f per token), built in %.1f ms\n",
              pattern.c_str(), static_cast<long long>(n), group_digits(batch.graph.num_edges()).c_str(),
              static_cast<double>(batch.graph.num_edges()) / static_cast<double>(n), graph_ms);
  std::printf("machine:     %s; products: %s; threads %d\n", describe_device(Device::cpu).c_str(),
              dense::gemm_backend_name(dense::gemm_backend()), active_threads());
  std::printf(
      "dropout:     %s\n",
      eval_only ? "off (inference)"
      : no_dropout
          ? "off (training step without dropout)"
          : cat("hidden ", o.p_hidden, ", weights ", o.p_attn_weights, ", hops ", o.p_attn_hops).c_str());
  std::fflush(stdout);

  std::vector<Sample> samples;
  for (std::int64_t r = 0; r <= reps; ++r) {
    Sample s;
    Stopwatch t;
    layer_forward(o, p, batch, x.view(), y.view(), RunMode{false, 0, 0}, nullptr, &s.fwd);
    s.forward_ms = t.ms();
    if (!eval_only) {
      LayerParams g(o.shape());
      zero(g);
      LayerCache cache;
      const RunMode mode{true, static_cast<std::uint64_t>(seed + r), 0};
      t.reset();
      layer_forward(o, p, batch, x.view(), y.view(), mode, &cache, &s.step);
      layer_backward(o, p, batch, x.view(), cache, dy.view(), dx.view(), g, mode, &s.step);
      s.step_ms = t.ms();
    }
    if (r > 0) samples.push_back(s);  // r = 0 warms up
  }
  const double fwd = med(samples, [](const Sample& s) { return s.forward_ms; });
  const double step = med(samples, [](const Sample& s) { return s.step_ms; });
  auto m = [&](double (*f)(const Sample&)) { return med(samples, f); };
  std::printf("\nforward (inference):          %9.1f ms   products %.1f, graph %.1f, elementwise %.1f\n", fwd,
              m([](const Sample& s) { return s.fwd.gemm_ms; }),
              m([](const Sample& s) { return s.fwd.graph_forward_ms; }),
              m([](const Sample& s) { return s.fwd.elementwise_ms; }));
  const double st_gemm = m([](const Sample& s) { return s.step.gemm_ms; });
  const double st_gf = m([](const Sample& s) { return s.step.graph_forward_ms; });
  const double st_gb = m([](const Sample& s) { return s.step.graph_backward_ms; });
  const double st_ew = m([](const Sample& s) { return s.step.elementwise_ms; });
  const double bw_w = m([](const Sample& s) { return s.step.diffusion.weights_ms; });
  const double bw_hf = m([](const Sample& s) { return s.step.diffusion.hop_forward_ms; });
  const double bw_hb = m([](const Sample& s) { return s.step.diffusion.hop_backward_ms; });
  const double bw_sc = m([](const Sample& s) { return s.step.diffusion.scores_ms; });
  if (!eval_only) {
    std::printf("forward + backward (training): %8.1f ms\n", step);
    std::printf("  products (GEMM, fwd + bwd)   %9.1f ms  %5.1f%%\n", st_gemm, 100 * st_gemm / step);
    std::printf("  graph forward                %9.1f ms  %5.1f%%\n", st_gf, 100 * st_gf / step);
    std::printf("  graph backward               %9.1f ms  %5.1f%%\n", st_gb, 100 * st_gb / step);
    std::printf("    weights recomputed         %9.1f ms\n", bw_w);
    std::printf("    hop inputs recomputed      %9.1f ms\n", bw_hf);
    std::printf("    hop backward (K passes)    %9.1f ms\n", bw_hb);
    std::printf("    softmax + score backward   %9.1f ms\n", bw_sc);
    std::printf("  elementwise (LN, GELU, ...)  %9.1f ms  %5.1f%%\n", st_ew, 100 * st_ew / step);
  }
  const std::int64_t cache_bytes = layer_cache_bytes(o, n);
  const std::int64_t peak_bytes = layer_backward_peak_bytes(o, n, batch.graph.num_edges());
  std::printf(
      "memory: kept for the backward %s per layer; backward transient %s; reverse graph %s; peak RSS %s\n",
      format_bytes(cache_bytes).c_str(), format_bytes(peak_bytes).c_str(),
      format_bytes(batch.reverse.bytes()).c_str(), format_bytes(peak_rss_bytes()).c_str());
  if (compare) gemm_compare(n, d, o.intermediate, stdout);
  if (json_out) {
    AtomicOutput f(*json_out, false);
    f.stream() << "{\"impl\": \"diffuser-cpu\", \"n\": " << n << ", \"d_model\": " << d
               << ", \"heads\": " << o.heads << ", \"edges\": " << batch.graph.num_edges()
               << ", \"hops\": " << o.coefficients.hops() << ", \"forward_ms\": " << fwd
               << ", \"step_ms\": " << step << ", \"gemm_ms\": " << st_gemm
               << ", \"graph_forward_ms\": " << st_gf << ", \"graph_backward_ms\": " << st_gb
               << ", \"elementwise_ms\": " << st_ew << ", \"peak_rss_bytes\": " << peak_rss_bytes()
               << ", \"threads\": " << active_threads() << ", \"device\": \""
               << json_escape(describe_device(Device::cpu)) << "\"}\n";
    f.commit();
  }
  return 0;
}

}  // namespace diffuser::cli
