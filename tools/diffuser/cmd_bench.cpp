// `diffuser bench`: medians of each stage of the forward over a sweep of N, with the machine's own
// ceilings (STREAM-like triad, FMA peak) and a naive single-threaded loop measured in the same run.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <vector>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>
#include <diffuser/engine/threads.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "bench_baselines.hpp"
#include "cli.hpp"
#include "demo_data.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {
namespace {

const char* const kHelp =
    "usage: diffuser bench [--sizes N1,N2,..] [--pattern SPEC] [--heads H] [--dim D] [--hops K]\n"
    "                      [--alpha A] [--reps R] [--threads T] [--backend cpu|cuda] [--seed S]\n"
    "                      [--no-naive] [--json FILE]\n\n"
    "Times the Diffuser forward (fused scores+softmax, then K fused hops) for each N and prints the\n"
    "median of R runs of every stage: ms, edges/s, GFLOP/s and GB/s, with the peak RSS. In the same\n"
    "run it measures this machine's ceilings, a STREAM-like triad (GB/s) and an FMA loop (GFLOP/s),\n"
    "and prints each stage as a share of them; at the smallest N it also times a straightforward\n"
    "single-threaded per-edge loop and prints the speedup over it (and checks both agree).\n\n"
    "Bytes model (fp32): weights = Q + K + W written (N*H*D*4*2 + E*H*4); hop = W + X + Y read and\n"
    "Z written (E*H*4 + 3*N*H*D*4). 'gathered' counts every neighbour row a pass touches (E*H*D*4),\n"
    "most of which the caches serve. FLOPs: 2*E*H*D per pass.\n\n"
    "options:\n"
    "  --sizes LIST     token counts (default 1024,4096,16384,65536)\n"
    "  --pattern SPEC   graph pattern (default: the authors' recipe, diffuser)\n"
    "  --heads H        heads (default 12)          --dim D    head size (default 64)\n"
    "  --hops K         hops (default 5)            --alpha A  teleport weight (default 0.1)\n"
    "  --reps R         timed repetitions per N (default 5)\n"
    "  --threads T      CPU threads (default: all)  --backend  cpu (default) or cuda\n"
    "  --seed S         seed of the graph and the data (default 0)\n"
    "  --no-naive       skip the naive single-threaded loop\n"
    "  --json FILE      also write every number as JSON\n\n"
    "example:\n"
    "  diffuser bench --sizes 1024,4096 --threads 2\n";

struct Row {
  std::int64_t n = 0, edges = 0;
  double graph_ms = 0, weights_ms = 0, hop_ms = 0, forward_ms = 0;
  double naive_ms = -1, naive_err = -1;
  std::int64_t peak_rss = 0;
  std::string skipped;
};

std::vector<std::int64_t> parse_sizes(const std::string& s) {
  std::vector<std::int64_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto n = parse_int(item, "--sizes");
    if (n <= 0 || n > kMaxNodes) throw UsageError(cat("--sizes: N = ", n, " is out of range"));
    out.push_back(n);
  }
  if (out.empty()) throw UsageError("--sizes needs at least one N");
  return out;
}

double rel_diff(const Tensor3<float>& a, const Tensor3<float>& b) {
  double num = 0, den = 0;
  for (std::int64_t t = 0; t < a.buffer().size(); ++t) {
    const double d = double(a.buffer()[t]) - double(b.buffer()[t]);
    num += d * d;
    den += double(b.buffer()[t]) * double(b.buffer()[t]);
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

int run(Args& args) {
  const auto sizes = parse_sizes(args.get("sizes").value_or("1024,4096,16384,65536"));
  const std::string pattern = args.get("pattern").value_or("diffuser");
  const auto H = args.get_int("heads", 12), D = args.get_int("dim", 64);
  const auto hops = static_cast<int>(args.get_int("hops", 5));
  const double alpha = args.get_double("alpha", 0.1);
  const int reps = static_cast<int>(args.get_int("reps", 5));
  const auto seed = static_cast<std::uint64_t>(args.get_int("seed", 0));
  const bool naive = !args.flag("no-naive");
  const auto json = args.get("json");
  const int threads = threads_option(args);
  const Device dev = backend_option(args).value_or(Device::cpu);
  args.finish();
  if (H <= 0 || D <= 0) throw UsageError("--heads and --dim must be positive");
  if (reps < 1) throw UsageError("--reps must be at least 1");
  const auto coeffs = diffusion::Coefficients::ppr(hops, alpha);
  if (json) check_output_path(*json, "--json");
  require_device(dev);
  ThreadLimit limit(threads);

  std::printf("diffuser bench: %s\n", describe_device(dev).c_str());
  std::printf("pattern %s, H=%lld, D=%lld, %s, %d reps (median)\n", pattern.c_str(), static_cast<long long>(H),
              static_cast<long long>(D), coeffs.describe().c_str(), reps);
  const double triad = bench::triad_gbps(32 << 20, 5);
  const double peak = bench::fma_peak_gflops();
  std::printf("machine ceilings (measured now, %d threads): triad %.1f GB/s, FMA peak %.1f GFLOP/s\n\n",
              active_threads(), triad, peak);
  std::printf("%8s %11s %9s | %9s %7s %6s %6s | %9s %7s %6s %6s | %9s %9s | %9s\n", "N", "edges", "graph ms",
              "weights ms", "GF/s", "%peak", "GB/s", "hop ms", "GF/s", "%peak", "GB/s", "forward", "Medges/s",
              "peak RSS");

  std::vector<Row> rows;
  for (std::size_t si = 0; si < sizes.size(); ++si) {
    Row row;
    row.n = sizes[si];
    reset_peak_rss();
    Stopwatch gsw;
    Csr g = graphs::build_pattern(pattern, row.n, seed);
    row.graph_ms = gsw.ms();
    row.edges = g.num_edges();
    const auto need = diffusion::forward_bytes(row.n, row.edges, H, D, 5);
    if (need > available_memory_bytes() && available_memory_bytes() > 0) {
      row.skipped = cat("skipped: needs ", format_bytes(need), ", ", format_bytes(available_memory_bytes()), " free");
      std::printf("%8lld %11s %s\n", static_cast<long long>(row.n), group_digits(row.edges).c_str(), row.skipped.c_str());
      rows.push_back(row);
      continue;
    }
    Tensor3<float> q(row.n, H, D), k(row.n, H, D), v(row.n, H, D);
    fill_normal(q.buffer(), seed, 1, threads > 0 ? threads : active_threads());
    fill_normal(k.buffer(), seed, 2, threads > 0 ? threads : active_threads());
    fill_normal(v.buffer(), seed, 3, threads > 0 ? threads : active_threads());
    const Csr gd = g.to(dev);
    const Tensor3<float> qd = q.to(dev), kd = k.to(dev), vd = v.to(dev);
    Matrix<float> w(row.edges, H, dev);
    Tensor3<float> out(row.n, H, D, dev), scratch(row.n, H, D, dev);
    std::vector<double> w_ms, hop_ms, fwd_ms;
    for (int r = 0; r <= reps; ++r) {  // r == 0 warms up
      diffusion::StageTimes t;
      synchronize(dev);
      Stopwatch sw;
      diffusion::attention_weights(gd, qd.view(), kd.view(), {}, 0.0f, w.view());
      synchronize(dev);
      t.scores_ms = sw.ms();
      diffusion::diffuse_values(gd, w.view(), vd.view(), coeffs, out.view(), scratch.view(), &t);
      if (r == 0) continue;
      w_ms.push_back(t.scores_ms);
      hop_ms.insert(hop_ms.end(), t.hop_ms.begin(), t.hop_ms.end());
      fwd_ms.push_back(t.total_ms());
    }
    row.weights_ms = median(w_ms);
    row.hop_ms = median(hop_ms);
    row.forward_ms = median(fwd_ms);
    if (naive && si == 0) {
      Tensor3<float> zn(row.n, H, D);
      Stopwatch nsw;
      bench::naive_forward(g, q, k, v, hops, static_cast<float>(alpha), zn);
      row.naive_ms = nsw.ms();
      row.naive_err = rel_diff(out.to(Device::cpu), zn);
    }
    row.peak_rss = peak_rss_bytes();
    const double E = double(row.edges), nhd = double(row.n) * double(H) * double(D);
    const double flops = 2.0 * E * double(H) * double(D);
    const double w_bytes = 2 * nhd * 4 + E * double(H) * 4, hop_bytes = E * double(H) * 4 + 3 * nhd * 4;
    auto gf = [&](double ms) { return flops / (ms * 1e6); };
    std::printf("%8lld %11s %9.1f | %9.2f %7.1f %5.0f%% %6.1f | %9.2f %7.1f %5.0f%% %6.1f | %9.2f %9.1f | %9s\n",
                static_cast<long long>(row.n), group_digits(row.edges).c_str(), row.graph_ms, row.weights_ms,
                gf(row.weights_ms), 100 * gf(row.weights_ms) / peak, w_bytes / (row.weights_ms * 1e6), row.hop_ms,
                gf(row.hop_ms), 100 * gf(row.hop_ms) / peak, hop_bytes / (row.hop_ms * 1e6), row.forward_ms,
                E * (1 + hops) / (row.forward_ms * 1e3), format_bytes(row.peak_rss).c_str());
    rows.push_back(row);
  }
  std::printf("\n");
  for (const auto& r : rows) {
    if (!r.skipped.empty()) continue;
    const double gathered = double(r.edges) * double(H) * double(D) * 4;
    std::printf("N=%lld: hop gathers %.1f GB/s of neighbour rows (%.1fx the triad bandwidth: served by the caches)\n",
                static_cast<long long>(r.n), gathered / (r.hop_ms * 1e6), gathered / (r.hop_ms * 1e6) / triad);
    if (r.naive_ms > 0)
      std::printf("N=%lld: naive single-threaded loop %.1f ms -> speedup %.1fx (outputs agree to %.1e)\n",
                  static_cast<long long>(r.n), r.naive_ms, r.naive_ms / r.forward_ms, r.naive_err);
  }
  if (json) {
    AtomicOutput out(*json, false);
    auto& os = out.stream();
    os << "{\"device\": \"" << json_escape(describe_device(dev)) << "\", \"pattern\": \"" << json_escape(pattern)
       << "\", \"heads\": " << H << ", \"dim\": " << D << ", \"hops\": " << hops << ", \"alpha\": " << alpha
       << ", \"reps\": " << reps << ", \"threads\": " << active_threads() << ", \"triad_gbps\": " << triad
       << ", \"fma_peak_gflops\": " << peak << ", \"rows\": [";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      os << (i ? ", " : "") << "{\"n\": " << r.n << ", \"edges\": " << r.edges << ", \"graph_ms\": " << r.graph_ms
         << ", \"weights_ms\": " << r.weights_ms << ", \"hop_ms\": " << r.hop_ms << ", \"forward_ms\": " << r.forward_ms
         << ", \"naive_ms\": " << r.naive_ms << ", \"naive_rel_err\": " << r.naive_err
         << ", \"peak_rss_bytes\": " << r.peak_rss << ", \"skipped\": \"" << json_escape(r.skipped) << "\"}";
    }
    os << "]}\n";
    out.commit();
  }
  return 0;
}

const Registrar reg({"bench", "time each stage of the forward over a sweep of N, with in-process baselines", kHelp,
                     &run, 40});

}  // namespace
}  // namespace diffuser::cli
