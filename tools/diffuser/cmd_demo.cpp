// `diffuser demo`: the main job of the README. Builds the authors' graph recipe, draws seeded random
// Q, K, V and runs the whole Diffuser attention forward, printing graph statistics, the time of each
// stage, throughput, peak RSS and a checksum of Z that does not depend on the thread count.
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <type_traits>

#include <diffuser/diffusion/coefficients.hpp>
#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/engine/bf16.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops.hpp>
#include <diffuser/engine/sys.hpp>
#include <diffuser/graphs/pattern.hpp>
#include <diffuser/graphs/stats.hpp>

#include "cli.hpp"
#include "command_context.hpp"
#include "demo_data.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

namespace {

// Streams of the random features, apart from those the pattern terms use.
constexpr std::uint64_t kStreamQ = 0x51515151, kStreamK = 0x4b4b4b4b, kStreamV = 0x56565656;

int run_demo_body(Args& args) {
  // The types and bounds of every option come from the table below, checked before this runs.
  const std::int64_t n = args.get_int("n", 4096);
  const std::string pattern = args.get("pattern").value_or(graphs::kDiffuserRecipe);
  const std::int64_t heads = args.get_int("heads", 12);
  const std::int64_t dim = args.get_int("dim", 64);
  const int hops = static_cast<int>(args.get_int("hops", 5));
  const double alpha = args.get_double("alpha", 0.1);
  const auto seed = static_cast<std::uint64_t>(args.get_int("seed", 0));
  const int threads = threads_option(args);
  const auto backend = backend_option(args);
  const auto dtype_arg = args.get("dtype");
  const DType dtype = dtype_arg ? parse_dtype(*dtype_arg) : DType::fp32;
  args.finish();
  graphs::parse_pattern(pattern);  // a bad term is a usage error before anything runs

  std::string why;
  const Device dev = backend ? *backend : (cuda_available(&why) ? Device::cuda : Device::cpu);
  require_device(dev);
  cli::CommandContext command_context(threads);
  const auto coeffs = diffusion::Coefficients::ppr(hops, alpha);

  std::printf("diffuser demo: Diffuser attention forward on seeded random Q, K, V\n");
  std::printf(
      "backend:   %s: %s%s\n", device_name(dev), describe_device(dev).c_str(),
      backend ? "" : cat(" (no --backend: ", dev == Device::cuda ? "a GPU is usable" : why, ")").c_str());
  std::printf("problem:   N = %s tokens, H = %lld heads, D = %lld, seed %llu\n", group_digits(n).c_str(),
              static_cast<long long>(heads), static_cast<long long>(dim),
              static_cast<unsigned long long>(seed));
  std::printf("pattern:   %s\n", pattern.c_str());
  std::printf("diffusion: %s\n", coeffs.describe().c_str());
  if (dtype == DType::bf16) std::printf("dtype:     bf16 storage (float32 weights and accumulation)\n");
  std::fflush(stdout);

  // Before the graph is built: the node buffers alone must fit (a huge N is refused right away).
  require_node_memory("demo", n, heads, dim, 3);
  Stopwatch sw;
  Csr host_graph = graphs::build_pattern(pattern, n, seed);
  const double graph_ms = sw.ms();
  const std::int64_t E = host_graph.num_edges();
  std::printf("graph statistics:\n");
  std::string stats = graphs::format_stats(graphs::graph_stats(host_graph));
  if (!stats.empty() && stats.back() != '\n') stats.push_back('\n');
  std::printf("  ");
  for (std::size_t i = 0; i < stats.size(); ++i) {
    std::putchar(stats[i]);
    if (stats[i] == '\n' && i + 1 < stats.size()) std::printf("  ");
  }

  // Q, K, V; Z and the hop scratch reuse Q's and K's buffers once the weights are computed.
  check_budget("demo", n, E, heads, dim, 3);

  sw.reset();
  const int fill_threads = current_context().cpu_threads();
  Buffer<float> q(n * heads * dim), k(n * heads * dim), v(n * heads * dim);
  fill_normal(q, seed, kStreamQ, fill_threads);
  fill_normal(k, seed, kStreamK, fill_threads);
  fill_normal(v, seed, kStreamV, fill_threads);
  Csr dev_graph;
  if (dev != Device::cpu) dev_graph = host_graph.to(dev);
  const Csr& g = dev == Device::cpu ? host_graph : dev_graph;
  diffusion::StageTimes times;
  double inputs_ms = 0;
  Buffer<float> z;  // Z as float32 on the CPU
  auto forward = [&]<class T>() {
    auto place = [&](Buffer<float>& f) {
      if constexpr (std::is_same_v<T, float>) {
        return dev == Device::cpu ? std::move(f) : f.to(dev);
      } else {
        Buffer<bf16> b(f.size());
        convert(std::span<const float>(f.data(), static_cast<std::size_t>(f.size())),
                std::span<bf16>(b.data(), static_cast<std::size_t>(b.size())));
        f = Buffer<float>();
        return dev == Device::cpu ? std::move(b) : b.to(dev);
      }
    };
    Buffer<T> qt = place(q), kt = place(k), vt = place(v);
    q = Buffer<float>();
    k = Buffer<float>();
    v = Buffer<float>();
    synchronize(dev);
    inputs_ms = sw.ms();
    auto view = [&](Buffer<T>& b) { return tensor3_view(b.data(), n, heads, dim, dev); };
    ops::EdgeWeights w(g.view(), heads);
    sw.reset();
    diffusion::attention_weights(g, Tensor3View<const T>(view(qt)), Tensor3View<const T>(view(kt)), {}, 0.0f,
                                 w);
    synchronize(dev);
    times.scores_ms = sw.ms();
    diffusion::diffuse_values(g, w, Tensor3View<const T>(view(vt)), coeffs, view(qt), view(kt), &times);
    synchronize(dev);
    Buffer<T> zt = dev == Device::cpu ? std::move(qt) : qt.to(Device::cpu);
    if constexpr (std::is_same_v<T, float>) {
      z = std::move(zt);
    } else {
      z = Buffer<float>(zt.size());
      convert(std::span<const bf16>(zt.data(), static_cast<std::size_t>(zt.size())),
              std::span<float>(z.data(), static_cast<std::size_t>(z.size())));
    }
  };
  if (dtype == DType::bf16)
    forward.template operator()<bf16>();
  else
    forward.template operator()<float>();
  const double forward_ms = times.total_ms();

  const Checksum sum = checksum(z.data(), z.size());

  std::printf("stage times:\n");
  print_stage("graph build", graph_ms);
  print_stage("inputs", inputs_ms);
  print_stage("weights", times.scores_ms);
  if (times.prepare_ms > 0) print_stage("pack", times.prepare_ms);  // bf16 tensor-core hops (GPU)
  for (std::size_t h = 0; h < times.hop_ms.size(); ++h)
    print_stage(coeffs.plain_attention() ? "A V" : cat("hop ", h + 1).c_str(), times.hop_ms[h]);
  print_stage("forward", forward_ms);
  const double passes = static_cast<double>(E) * (1.0 + hops);
  const double flops = 2.0 * static_cast<double>(E) * static_cast<double>(heads * dim) * (1.0 + hops);
  const double sec = forward_ms > 0 ? forward_ms / 1e3 : 1e-9;
  std::printf("throughput: %.3e edges/s, %.2f GFLOP/s (%.3f GFLOP in the forward)\n", passes / sec,
              flops / sec / 1e9, flops / 1e9);
  std::printf("peak RSS: %s\n", format_bytes(peak_rss_bytes()).c_str());
  std::printf("checksum: sum %.9e  sum of squares %.9e\n", sum.sum, sum.sum_squares);
  return 0;
}

int run_demo(Args& args) {
  return with_one_line_errors(args, &run_demo_body);
}

const Registrar reg({
    .name = "demo",
    .summary = "the main job: the authors' recipe at N = 4096 on random Q, K, V, timed",
    .usage = {"[--n N] [--pattern SPEC] [--heads H] [--dim D] [--hops K] [--alpha A]",
              "[--seed S] [--threads T] [--backend cpu|cuda] [--dtype fp32|bf16]"},
    .about = "Runs the whole Diffuser attention forward (scores + softmax on every edge, then K hops of\n"
             "attention diffusion) on seeded random Q, K, V ~ N(0, 1) and prints the graph statistics, the\n"
             "time of each stage, throughput, peak RSS and a checksum of Z (sum and sum of squares in double,\n"
             "the same for every thread count).\n",
    .options = {
        {"options (defaults: the authors' setting)",
         {
          {.label = "--n N",
           .help = "tokens (default 4096)", .type = Option::Type::integer, .min = 1, .max = static_cast<double>(kMaxNodes)},
          {.label = "--pattern SPEC",
           .help = "token graph (default the authors' recipe 'blocks:64+random:64+global-random:64'; see diffuser graph --help for the terms)"},
          {.label = "--heads H",
           .help = "attention heads (default 12)", .type = Option::Type::integer, .min = 1, .max = 4096},
          {.label = "--dim D",
           .help = "head size (default 64)", .type = Option::Type::integer, .min = 1, .max = 65536},
          {.label = "--hops K",
           .help = "diffusion hops, 0..256 (default 5; 0 = plain sparse attention)", .type = Option::Type::integer, .min = 0, .max = diffusion::kMaxHops},
          {.label = "--alpha A",
           .help = "PPR teleport weight in [0, 1] (default 0.1)", .type = Option::Type::number, .min = 0, .max = 1},
          {.label = "--seed S",
           .help = "seed of the random pattern terms and of Q, K, V (default 0)", .type = Option::Type::integer, .min = 0},
          {.label = "--threads T",
           .help = "CPU worker threads (default: all hardware threads)", .type = Option::Type::integer, .min = 1, .max = 4096},
          {.label = "--backend cpu|cuda",
           .help = "default: cuda when a GPU is usable, else cpu (it says which)"},
          {.label = "--dtype fp32|bf16",
           .help = "storage of Q, K, V and the hop buffers (default fp32; weights and sums stay float32)"},
         }},
    },
    .notes = "throughput counts 2*E*H*D flops for the scores and 2*E*H*D per hop; edges/s is E*(1+K) edge\n"
             "passes over the forward time.\n"
             "\n"
             "examples:\n"
             "  diffuser demo\n"
             "  diffuser demo --n 512 --threads 1\n"
             "  diffuser demo --n 16384 --pattern 'window:64+global:8' --hops 10 --alpha 0.2\n"
             "\n"
             "exit status: 0 success, 1 bad data (e.g. not enough memory), 2 bad usage.\n",
    .run = &run_demo,
    .order = 30,
});

}  // namespace

}  // namespace diffuser::cli
