// `diffuser attend`: Diffuser attention on files. Reads Q, K, V (N, H, D) .npy arrays and a token
// graph, computes the per-edge attention weights and the multi-hop diffusion, writes Z (N, H, D).
// Memory plan: headers first, budget printed and checked, then Q/K/V; after the weights Q and K
// are dead, so their buffers become the hops' ping-pong pair (peak: graph + weights + 3 buffers).
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <type_traits>

#include <diffuser/diffusion/coefficients.hpp>
#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/engine/bf16.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/npy.hpp>
#include <diffuser/engine/ops.hpp>
#include <diffuser/engine/sys.hpp>

#include "attend_distributed.hpp"
#include "attend_io.hpp"
#include "cli.hpp"
#include "command_context.hpp"
#include "grad_attend.hpp"
#include "graph_source.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

namespace {

namespace fs = std::filesystem;
using diffusion::Coefficients;

// Non-finite results are reported with the stage that produced them. The weights are a softmax of
// finite scores, so a NaN there means the scores overflowed float32 (q . k beyond 3.4e38).
void check_weights_finite(const ops::EdgeWeights& w) {
  const auto first_non_finite = [](MatrixView<const float> v) {
    return ops::find_non_finite(tensor3_view(v.data, v.rows, v.cols, 1, v.device));
  };
  if (first_non_finite(w.matrix()) < 0) return;
  // Only when something is wrong: the edge-major copy names the edge and the head.
  const std::int64_t bad = first_non_finite(w.edge_major().view());
  throw Error(cat("stage 'weights' (scores and softmax) produced a non-finite attention weight at edge ",
                  bad / w.heads(), ", head ", bad % w.heads(),
                  ": the scores q . k / sqrt(D) overflow float32 (Q and K values too large)"));
}

void check_result_finite(const Buffer<float>& z, const AttendInputs& in) {
  const std::int64_t bad = ops::find_non_finite(tensor3_view<const float>(z.data(), in.n, in.h, in.d));
  if (bad < 0) return;
  throw Error(cat("stage 'diffusion' (the hops) produced a non-finite value of Z at [", bad / (in.h * in.d),
                  ", ", (bad / in.d) % in.h, ", ", bad % in.d,
                  "] from finite weights: the values of V (or their sums) overflow float32"));
}

template <class T>
Buffer<T> to_device(Buffer<T> b, Device dev) {
  if (b.device() == dev) return b;
  return b.to(dev);
}

int run_attend_body(Args& args) {
  const fs::path q_path = args.require("q"), k_path = args.require("k"), v_path = args.require("v");
  const fs::path out_path = args.require("out");
  const auto mask_arg = args.get("mask");
  const auto weights_out = args.get("weights-out");
  const auto edges_out = args.get("edges-out");
  const auto hops = args.get_int("hops");
  const auto alpha = args.get_double("alpha");
  const auto theta = args.get_doubles("theta");
  const auto heat = args.get_double("heat");
  const int threads = threads_option(args);
  const Device dev = backend_option(args).value_or(Device::cpu);
  const auto dtype_arg = args.get("dtype");
  const DType dtype = dtype_arg ? parse_dtype(*dtype_arg) : DType::fp32;
  AttendGrads grads =
      attend_grad_options(args, dtype == DType::bf16);  // --grad-out, --grads-dir (grad_attend.hpp)
  finish_except_graph_options(args);
  const Coefficients coeffs = coefficients_from(hops, alpha, theta, heat);

  std::vector<std::pair<std::string, fs::path>> outputs{{"out", out_path}};
  if (weights_out) outputs.emplace_back("weights-out", *weights_out);
  if (edges_out) outputs.emplace_back("edges-out", *edges_out);
  if (grads.enabled())
    for (const char* name : {"dQ.npy", "dK.npy", "dV.npy"})
      outputs.emplace_back("grads-dir", *grads.grads_dir / name);
  check_distinct_outputs(outputs);
  std::vector<std::pair<std::string, fs::path>> inputs = graph_inputs(args);
  inputs.insert(inputs.end(), {{"q", q_path}, {"k", k_path}, {"v", v_path}});
  if (mask_arg) inputs.emplace_back("mask", *mask_arg);
  if (grads.enabled()) inputs.emplace_back("grad-out", *grads.grad_out);
  check_outputs_not_inputs(inputs, outputs);
  for (const auto& [opt, p] : outputs) check_output_path(p, opt);

  require_device(dev);
  cli::CommandContext command_context(threads);
  const AttendInputs in =
      inspect_inputs(q_path, k_path, v_path, mask_arg ? std::optional<fs::path>(*mask_arg) : std::nullopt);

  // Before the graph is built: the node buffers alone must fit.
  require_node_memory("attend", in.n, in.h, in.d, 3);
  GraphSource src = graph_from_args(args);
  args.finish();
  const std::int64_t n = src.graph.num_nodes(), E = src.graph.num_edges();
  if (n == 0) throw Error(cat("the graph (", src.description, ") has no nodes"));
  if (n != in.n)
    throw Error(cat("N mismatch: the graph (", src.description, ") has ", n, " nodes but ", in.q.string(),
                    " has ", in.n, " tokens",
                    n < in.n && src.description.rfind("file ", 0) == 0
                        ? " (--n N gives a graph file trailing tokens without edges)"
                        : ""));

  std::printf("graph:    %s: %s nodes, %s edges (%.1f per token)\n", src.description.c_str(),
              group_digits(n).c_str(), group_digits(E).c_str(),
              static_cast<double>(E) / static_cast<double>(n));
  std::printf("inputs:   Q %s, K %s, V %s\n", describe_input(in.q, in.hq).c_str(),
              describe_input(in.k, in.hk).c_str(), describe_input(in.v, in.hv).c_str());
  if (in.mask) std::printf("mask:     %s\n", describe_input(*in.mask, in.hmask).c_str());
  std::printf("diffusion: %s\n", coeffs.describe().c_str());
  std::printf("backend:  %s (%s)\n", device_name(dev), describe_device(dev).c_str());
  if (dtype == DType::bf16)
    std::printf(
        "dtype:    bf16 storage of Q, K, V and the hops (float32 weights and accumulation; Z written as "
        "float32)\n");

  // The budget: what this run holds at its peak (node buffers: Q, K, V; the hops reuse Q and K).
  check_budget("attend", n, E, in.h, in.d, 3, in.mask ? n : 0);

  // Load: each array is checked for NaN/Inf on the CPU, then moved to the backend's device
  // (converted to bf16 on the way with --dtype bf16).
  Stopwatch sw;
  Csr on_device;
  if (dev != Device::cpu) on_device = src.graph.to(dev);
  const Csr& g = dev == Device::cpu ? src.graph : on_device;
  Buffer<std::uint8_t> mb;
  if (in.mask) mb = to_device(load_mask(in), dev);
  const ops::NodeMask mask = in.mask ? ops::NodeMask{mb.data(), mb.size(), dev} : ops::NodeMask{};
  ops::EdgeWeights w(g.view(), in.h);
  diffusion::StageTimes times;
  double load_ms = 0;
  Buffer<float> z;  // the result, float32 on the CPU
  auto forward = [&]<class T>() {
    auto load = [&](const fs::path& p) {
      if constexpr (std::is_same_v<T, float>) {
        return to_device(load_features(p, in), dev);
      } else {
        const Buffer<float> f = load_features(p, in);
        Buffer<bf16> b(f.size());
        convert(std::span<const float>(f.data(), static_cast<std::size_t>(f.size())),
                std::span<bf16>(b.data(), static_cast<std::size_t>(b.size())));
        return to_device(std::move(b), dev);
      }
    };
    Buffer<T> qb = load(in.q);
    Buffer<T> kb = load(in.k);
    Buffer<T> vb = load(in.v);
    synchronize(dev);
    load_ms = sw.ms();
    auto view = [&](Buffer<T>& b) { return tensor3_view(b.data(), in.n, in.h, in.d, dev); };
    if constexpr (std::is_same_v<T, float>)  // the backward, before Q and K are reused below
      attend_grad_compute(grads, g, view(qb), view(kb), view(vb), mask, coeffs);
    sw.reset();
    diffusion::attention_weights(g, Tensor3View<const T>(view(qb)), Tensor3View<const T>(view(kb)), mask,
                                 0.0f, w);
    synchronize(dev);
    times.scores_ms = sw.ms();
    check_weights_finite(w);
    // Q and K are dead from here: Q's buffer receives Z, K's is the scratch of the ping-pong.
    diffusion::diffuse_values(g, w, Tensor3View<const T>(view(vb)), coeffs, view(qb), view(kb), &times);
    synchronize(dev);
    sw.reset();
    kb = Buffer<T>();
    vb = Buffer<T>();
    Buffer<T> zt = to_device(std::move(qb), Device::cpu);
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
  check_result_finite(z, in);

  // Write: everything is staged next to its target and renamed into place only at the end.
  OutputSet files;
  files.write(out_path, "out", [&](const fs::path& p) { npy::save(p, z.data(), {in.n, in.h, in.d}); });
  z = Buffer<float>();
  if (weights_out) {
    const std::vector<float> wh = w.edge_major().buffer().to_vector();  // the file is (E, H) in CSR order
    files.write(*weights_out, "weights-out", [&](const fs::path& p) { npy::save(p, wh.data(), {E, in.h}); });
  }
  w = ops::EdgeWeights();
  if (edges_out) {
    const std::vector<std::int32_t> pairs = edge_pairs(src.graph);
    files.write(*edges_out, "edges-out", [&](const fs::path& p) { npy::save(p, pairs.data(), {E, 2}); });
  }
  attend_grad_stage(grads, files);
  files.commit();
  const double write_ms = sw.ms();

  std::printf("stage times:\n");
  print_stage("graph", src.build_ms);
  print_stage("load", load_ms);
  print_stage("weights", times.scores_ms);
  if (times.prepare_ms > 0) print_stage("pack", times.prepare_ms);  // bf16 tensor-core hops (GPU)
  for (std::size_t h = 0; h < times.hop_ms.size(); ++h)
    print_stage(coeffs.plain_attention() ? "A V" : cat("hop ", h + 1).c_str(), times.hop_ms[h]);
  print_stage("write", write_ms);
  print_stage("forward", times.total_ms());
  if (grads.enabled()) print_stage("backward", grads.backward_ms);
  print_stage("total", src.build_ms + load_ms + times.total_ms() + grads.backward_ms + write_ms);
  std::printf("peak RSS: %s\n", format_bytes(peak_rss_bytes()).c_str());
  std::printf("wrote:    %s (%lld, %lld, %lld) float32", out_path.c_str(), static_cast<long long>(in.n),
              static_cast<long long>(in.h), static_cast<long long>(in.d));
  if (weights_out)
    std::printf(", %s (%lld, %lld) float32", weights_out->c_str(), static_cast<long long>(E),
                static_cast<long long>(in.h));
  if (edges_out) std::printf(", %s (%lld, 2) int32", edges_out->c_str(), static_cast<long long>(E));
  if (grads.enabled())
    std::printf(", %s/{dQ,dK,dV}.npy (%lld, %lld, %lld) float32", grads.grads_dir->string().c_str(),
                static_cast<long long>(in.n), static_cast<long long>(in.h), static_cast<long long>(in.d));
  std::printf("\n");
  return 0;
}

int run_attend_any(Args& args) {
  if (const auto mode = args.get("distributed")) return run_attend_distributed(args, *mode);
  return run_attend_body(args);
}

int run_attend(Args& args) {
  return with_one_line_errors(args, &run_attend_any);
}

const Registrar reg({
    .name = "attend",
    .summary = "Diffuser attention on .npy files: Q, K, V (N, H, D) and a graph -> Z",
    .usage = {"(--pattern SPEC --n N [--seed S] | --graph FILE [--n N])",
              "--q Q.npy --k K.npy --v V.npy [--mask M.npy] --out Z.npy",
              "[--hops K] [--alpha A] [--theta t0,t1,.. | --heat T]",
              "[--weights-out W.npy] [--edges-out E.npy] [--grad-out dZ.npy --grads-dir DIR]",
              "[--threads T] [--backend cpu|cuda] [--dtype fp32|bf16] [--distributed heads|tokens]"},
    .about = "Diffuser attention: A = softmax over each token's incoming edges of q_i.k_j/sqrt(D), then\n"
             "Z = sum_k theta_k A^k V computed hop by hop on the graph (edge j -> i: token i attends to j).\n",
    .options = {
        graph_option_group(),
        {"inputs (NumPy .npy, C order, little-endian)",
         {
          {.label = "--q Q.npy --k K.npy --v V.npy",
           .help = "(N, H, D) arrays of one shape, float32 (float64 is converted); N must equal the graph's number of nodes; NaN/Inf are rejected",
           .required = true},
          {.label = "--mask M.npy",
           .help = "(N,) integer or bool array, nonzero = real token; edges from or to a padding token carry zero weight (default: every token is real)"},
         }},
        {"diffusion (default: PPR with K = 5, alpha = 0.1)",
         {
          {.label = "--hops K",
           .help = cat("number of hops, 0..", diffusion::kMaxHops, " (default 5); K = 0 is plain sparse attention Z = A V"),
           .type = Option::Type::integer, .min = 0, .max = diffusion::kMaxHops},
          {.label = "--alpha A",
           .help = "PPR teleport weight in [0, 1] (default 0.1): Z_0 = V, Z_{k+1} = (1 - A) A Z_k + A V",
           .type = Option::Type::number, .min = 0, .max = 1},
          {.label = "--heat T",
           .help = "heat kernel with time T >= 0: theta_k = e^-T T^k / k! (k < K), the rest on A^K; K comes from --hops",
           .type = Option::Type::number, .min = 0},
          {.label = "--theta t0,t1,..",
           .help = "the coefficients theta_0..theta_K themselves (K = count - 1); excludes --heat, --hops and --alpha", .type = Option::Type::numbers},
         }},
        {"outputs (written only when the whole run succeeds; a failed run leaves none of them)",
         {
          {.label = "--out Z.npy", .help = "the result (N, H, D) float32", .required = true},
          {.label = "--weights-out W.npy",
           .help = "the attention weights (E, H) float32, edges in CSR order (by destination, sources ascending)"},
          {.label = "--edges-out E.npy",
           .help = "the edges (E, 2) int32 as (src, dst) rows, in the same order"},
         }},
        grad_option_group(),
        {"execution",
         {
          {.label = "--threads T",
           .help = "CPU worker threads (default: all hardware threads)", .type = Option::Type::integer, .min = 1, .max = 4096},
          {.label = "--backend cpu|cuda",
           .help = "where to compute (default cpu); cuda moves the graph, Q, K, V and the mask to the GPU and Z back, and needs a CUDA build with a usable GPU (otherwise exit 1)"},
          {.label = "--dtype fp32|bf16",
           .help = "storage of Q, K, V and the hop buffers (default fp32): bf16 halves the bytes the hops move; weights and sums stay float32, Z is written as float32"},
          {.label = "--distributed heads|tokens",
           .help = "one sequence over the ranks of `mpirun -np P diffuser attend ...` (docs/DISTRIBUTED.md): heads = head sharding (P <= H, bitwise the same Z and gradients), tokens = token partitioning with halo exchange (any P <= N; Z within 1e-6, gradients within 5e-6). Rank 0 reads and writes the files; CPU, float32; not with --weights-out, --edges-out, --backend, --dtype"},
         }},
    },
    .notes = "It prints the inputs, the memory budget (graph + weights + node buffers, checked against the\n"
             "available memory before Q, K, V are loaded), the time of each stage (graph, load, weights,\n"
             "each hop, write) and the peak RSS.\n"
             "\n"
             "examples:\n"
             "  diffuser attend --pattern diffuser --n 4096 --q q.npy --k k.npy --v v.npy --out z.npy\n"
             "  diffuser attend --graph g.txt --q q.npy --k k.npy --v v.npy --mask m.npy --hops 0 --out z.npy\n"
             "  diffuser attend --pattern window:4 --n 512 --q q.npy --k k.npy --v v.npy --heat 1.5 --hops 8 \\\n"
             "                  --out z.npy --weights-out w.npy --edges-out e.npy --threads 2\n"
             "\n"
             "exit status: 0 success, 1 bad data (file, shape, dtype, NaN, N mismatch, memory), 2 bad usage.\n",
    .docs = "[GPU.md](GPU.md), [LAYER.md](LAYER.md)",
    .run = &run_attend,
    .order = 20,
});

}  // namespace

}  // namespace diffuser::cli
