// `diffuser bench`: medians of each stage of the forward over a sweep of N, with the machine's own
// ceilings (STREAM-like triad, FMA peak) and naive loops (one thread, and the same threads) measured
// in the same run, at the same CPU level.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <span>
#include <sstream>
#include <type_traits>
#include <vector>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/baselines.hpp>
#include <diffuser/engine/bf16.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/cpu_baselines.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops.hpp>
#include <diffuser/engine/sys.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "bench_distributed.hpp"
#include "cli.hpp"
#include "command_context.hpp"
#include "demo_data.hpp"
#include "json_out.hpp"
#include "progress.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {
namespace {

struct Row {
  std::int64_t n = 0, edges = 0;
  double graph_ms = 0, weights_ms = 0, hop_ms = 0, forward_ms = 0;
  double naive_ms = -1, naive_err = -1, naive_par_ms = -1, naive_par_err = -1;
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

// ---- --backend cuda ---------------------------------------------------------------------------

struct CudaOptions {
  std::vector<std::int64_t> sizes;
  std::string pattern;
  std::int64_t H = 12, D = 64;
  int hops = 5;
  double alpha = 0.1;
  int reps = 5;
  std::uint64_t seed = 0;
  std::vector<DType> dtypes{DType::fp32};
  bool cusparse = true, dense = true, device_graph = false;
  std::vector<std::string> variants;
  std::optional<std::string> json;
  bool quiet = false;
};

struct Ours {
  DType dtype = DType::fp32;
  double forward_ms = 0, oneshot_ms = 0, enqueue_ms = 0, scores_ms = 0, hop_ms = 0;
  double prepare_ms = 0;  // weights packed for the hops (bf16 panels), once per forward
  double model_bytes = 0, gathered_bytes = 0;
  std::int64_t peak_bytes = 0;
  double err_vs_fp32 = -1;                               // bf16 only: relative difference to our fp32 output
  std::vector<std::pair<std::string, double>> variants;  // schedule -> forward ms
};

struct CudaRow {
  std::int64_t n = 0, edges = 0;
  double graph_ms = 0, device_graph_ms = -1;
  bool device_graph_equal = false;
  std::vector<Ours> ours;
  baselines::Timing cusparse, dense;
  bool has_cusparse = false, has_dense = false;
  std::string cusparse_note, dense_note;
  double cusparse_err = -1, dense_err = -1;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (std::size_t t = 0; t < a.size(); ++t) {
    const double d = double(a[t]) - double(b[t]);
    num += d * d;
    den += double(b[t]) * double(b[t]);
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

// One forward on the device, timed end to end (drained before and after, nothing in between).
template <class T>
struct DeviceForward {
  const Csr& g;
  Tensor3View<const T> q, k, v;
  const diffusion::Coefficients& c;
  ops::EdgeWeights w;
  Tensor3<T> out, scratch;

  DeviceForward(const Csr& g_, Tensor3View<const T> q_, Tensor3View<const T> k_, Tensor3View<const T> v_,
                const diffusion::Coefficients& c_)
      : g(g_),
        q(q_),
        k(k_),
        v(v_),
        c(c_),
        w(g_.view(), q_.h),
        out(v_.n, v_.h, v_.d, Device::cuda),
        scratch(v_.n, v_.h, v_.d, Device::cuda) {}

  void run(diffusion::StageTimes* times = nullptr) {
    const double ms = [&] {
      if (!times) {
        diffusion::attention_weights(g, q, k, {}, 0.0f, w);
        return 0.0;
      }
      synchronize(Device::cuda);
      Stopwatch sw;
      diffusion::attention_weights(g, q, k, {}, 0.0f, w);
      synchronize(Device::cuda);
      return sw.ms();
    }();
    if (times) times->scores_ms = ms;
    diffusion::diffuse_values(g, w, v, c, out.view(), scratch.view(), times);
  }
  // Host time to enqueue one forward (drained before, not after): far below the forward's own
  // time when nothing inside synchronises.
  double enqueue_ms(int reps) {
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) {
      synchronize(Device::cuda);
      Stopwatch sw;
      run();
      t.push_back(sw.ms());
    }
    synchronize(Device::cuda);
    return median(t);
  }
  double timed_ms(int reps) {
    run();  // warm-up: module load (the graph's plans were built by the caller's one-shot run)
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) {
      synchronize(Device::cuda);
      Stopwatch sw;
      run();
      synchronize(Device::cuda);
      t.push_back(sw.ms());
    }
    return median(t);
  }
};

template <class T>
Ours time_ours(const CudaOptions& o, const Csr& graph, const Tensor3<float>& q, const Tensor3<float>& k,
               const Tensor3<float>& v, const diffusion::Coefficients& coeffs, std::vector<float>* out_host) {
  const Csr gd = graph.to(Device::cuda);  // a graph the engine has not planned yet (one-shot timing)
  Ours r;
  r.dtype = std::is_same_v<T, bf16> ? DType::bf16 : DType::fp32;
  const std::int64_t base = baselines::device_bytes_in_use();
  baselines::reset_peak_device_bytes();
  auto upload = [](const Tensor3<float>& t) {
    if constexpr (std::is_same_v<T, float>) {
      return t.to(Device::cuda);
    } else {
      Tensor3<bf16> b(t.n(), t.h(), t.d());
      convert(std::span<const float>(t.buffer().data(), static_cast<std::size_t>(t.buffer().size())),
              std::span<bf16>(b.buffer().data(), static_cast<std::size_t>(b.buffer().size())));
      return b.to(Device::cuda);
    }
  };
  const Tensor3<T> qd = upload(q), kd = upload(k), vd = upload(v);
  // One-shot: the first forward on this graph builds its plans (hub rows, the bf16 panels).
  synchronize(Device::cuda);
  Stopwatch first;
  DeviceForward<T> f(gd, qd.view(), kd.view(), vd.view(), coeffs);
  f.run();
  synchronize(Device::cuda);
  r.oneshot_ms = first.ms();
  r.forward_ms = f.timed_ms(o.reps);
  r.enqueue_ms = f.enqueue_ms(o.reps);
  std::vector<double> sc, hp, pp;
  for (int rep = 0; rep < std::max(1, o.reps / 2); ++rep) {
    diffusion::StageTimes t;
    f.run(&t);
    sc.push_back(t.scores_ms);
    pp.push_back(t.prepare_ms);
    hp.insert(hp.end(), t.hop_ms.begin(), t.hop_ms.end());
  }
  r.scores_ms = median(sc);
  r.prepare_ms = median(pp);
  r.hop_ms = hp.empty() ? 0 : median(hp);
  // The peak of the main schedule's forward (graph counted by the caller's base).
  r.peak_bytes = baselines::peak_device_bytes() - base;
  if (out_host) {
    if constexpr (std::is_same_v<T, float>) {
      *out_host = f.out.buffer().to_vector();
    } else {
      const std::vector<bf16> zb = f.out.buffer().to_vector();
      out_host->resize(zb.size());
      convert(std::span<const bf16>(zb), std::span<float>(*out_host));
    }
  }
  for (const auto& spec : o.variants) {  // each variant's schedule over the main one
    ContextOptions variant = current_context().options();
    variant.cuda.schedule += "," + spec;
    const Context ctx(variant);
    ContextScope scope(ctx);
    DeviceForward<T> fv(gd, qd.view(), kd.view(), vd.view(), coeffs);
    fv.run();  // this schedule's plans (another hub rule plans anew)
    r.variants.emplace_back(spec, fv.timed_ms(o.reps));
  }
  const double s = sizeof(T), E = double(gd.num_edges()), nhd = double(q.n()) * double(o.H) * double(o.D);
  const double scores = 2 * nhd * s + E * double(o.H) * 4 + E * 4;
  const double hop = E * double(o.H) * 4 + E * 4 + 3 * nhd * s;
  r.model_bytes = scores + std::max(1, coeffs.hops()) * hop;
  r.gathered_bytes = E * double(o.H) * double(o.D) * s * (1 + std::max(1, coeffs.hops()));
  return r;
}

int run_cuda(const CudaOptions& o) {
  const auto coeffs = diffusion::Coefficients::ppr(o.hops, o.alpha);
  std::printf("diffuser bench (cuda): %s\n", describe_device(Device::cuda).c_str());
  std::printf("pattern %s, H=%lld, D=%lld, %s, %d reps (median), schedule %s\n", o.pattern.c_str(),
              static_cast<long long>(o.H), static_cast<long long>(o.D), coeffs.describe().c_str(), o.reps,
              current_context().cuda_schedule_text().c_str());
  const double copy = baselines::device_copy_gbps(std::int64_t{1} << 30, 10);
  std::printf("device-to-device copy (1 GiB, measured now): %.0f GB/s counting read + write\n", copy);
  std::printf(
      "bytes model per forward: scores 2*N*H*D*s + E*(4H + 4); hop E*(4H + 4) + 3*N*H*D*s (s: 4 fp32, 2 "
      "bf16)\n\n");
  std::printf("%9s %12s %5s | %10s %9s %8s | %9s %7s %6s | %10s | %s\n", "N", "edges", "dtype", "forward ms",
              "scores ms", "hop ms", "model GB", "GB/s", "%copy", "peak MiB", "vs fp32 / notes");
  std::fflush(stdout);
  std::vector<CudaRow> rows;
  Progress progress("bench", progress_style(o.quiet));
  double total_units = 0, units_done = 0;
  for (const std::int64_t n : o.sizes) total_units += static_cast<double>(n);
  progress.stage("sizes", total_units);
  for (const std::int64_t n : o.sizes) {
    progress.update(units_done, cat("N = ", group_digits(n)));
    CudaRow row;
    row.n = n;
    Stopwatch gsw;
    const Csr g = graphs::build_pattern(o.pattern, n, o.seed);
    row.graph_ms = gsw.ms();
    row.edges = g.num_edges();
    const std::int64_t graph_base = baselines::device_bytes_in_use();
    baselines::reset_peak_device_bytes();
    const Csr gd = g.to(Device::cuda);
    const std::int64_t graph_bytes = baselines::device_bytes_in_use() - graph_base;
    if (o.device_graph) {
      const EdgeList el = graphs::pattern_edges(o.pattern, n, o.seed);
      const Buffer<std::int32_t> s = Buffer<std::int32_t>::from_host(el.src, Device::cuda);
      const Buffer<std::int32_t> d = Buffer<std::int32_t>::from_host(el.dst, Device::cuda);
      synchronize(Device::cuda);
      Stopwatch dsw;
      const Csr built =
          ops::csr_from_edges(n, {s.data(), s.size(), Device::cuda}, {d.data(), d.size(), Device::cuda});
      synchronize(Device::cuda);
      row.device_graph_ms = dsw.ms();
      row.device_graph_equal = built.row_ptr().to_vector() == g.row_ptr().to_vector() &&
                               built.col().to_vector() == g.col().to_vector();
    }
    Tensor3<float> q(n, o.H, o.D), k(n, o.H, o.D), v(n, o.H, o.D);
    const int threads = current_context().cpu_threads();
    fill_normal(q.buffer(), o.seed, 1, threads);
    fill_normal(k.buffer(), o.seed, 2, threads);
    fill_normal(v.buffer(), o.seed, 3, threads);
    std::vector<float> z32;
    for (const DType dt : o.dtypes) {
      std::vector<float> z;
      Ours r = dt == DType::fp32 ? time_ours<float>(o, gd, q, k, v, coeffs, &z)
                                 : time_ours<bf16>(o, gd, q, k, v, coeffs, &z);
      if (dt == DType::fp32)
        z32 = std::move(z);
      else if (!z32.empty())
        r.err_vs_fp32 = rel_diff(z, z32);
      const double gbps = r.model_bytes / (r.forward_ms * 1e6);
      progress.finish();
      std::printf("%9lld %12s %5s | %10.3f %9.3f %8.3f | %9.3f %7.0f %5.0f%% | %10.0f | %s\n",
                  static_cast<long long>(n), group_digits(row.edges).c_str(), dtype_name(dt), r.forward_ms,
                  r.scores_ms, r.hop_ms, r.model_bytes / 1e9, gbps, 100 * gbps / copy,
                  double(r.peak_bytes) / (1 << 20),
                  cat("one-shot ", r.oneshot_ms, " ms; enqueue ", r.enqueue_ms, " ms; ",
                      dt == DType::bf16 ? cat("pack ", r.prepare_ms, " ms; ") : std::string(),
                      r.err_vs_fp32 >= 0 ? cat("rel. diff to fp32 ", r.err_vs_fp32) : std::string())
                      .c_str());
      for (const auto& [spec, ms] : r.variants)
        std::printf("%9s %12s %5s |   %8.3f ms  variant %s\n", "", "", dtype_name(dt), ms, spec.c_str());
      std::fflush(stdout);
      row.ours.push_back(std::move(r));
    }
    // Baselines on float32 inputs.
    if (o.cusparse || o.dense) {
      const Tensor3<float> qd = q.to(Device::cuda), kd = k.to(Device::cuda), vd = v.to(Device::cuda);
      Tensor3<float> out(n, o.H, o.D, Device::cuda);
      auto run_baseline = [&](const char* name, bool want, baselines::Timing& t, bool& has, std::string& note,
                              double& err, auto&& call) {
        if (!want) return;
        progress.finish();
        try {
          t = call();
          has = true;
          if (!z32.empty()) err = rel_diff(out.buffer().to_vector(), z32);
          std::printf("%9lld %12s %5s | %10.3f %9.3f %8.3f | %9s %7s %6s | %10.0f | softmax %.3f ms%s\n",
                      static_cast<long long>(n), name, "fp32", t.total_ms, t.scores_ms, t.hop_ms, "", "", "",
                      double(t.peak_bytes) / (1 << 20), t.softmax_ms,
                      err >= 0 ? cat(", rel. diff to ours ", err).c_str() : "");
        } catch (const Error& e) {
          note = e.what();
          std::printf("%9lld %12s skipped: %s\n", static_cast<long long>(n), name, note.c_str());
        }
        std::fflush(stdout);
      };
      run_baseline("cusparse", o.cusparse, row.cusparse, row.has_cusparse, row.cusparse_note,
                   row.cusparse_err, [&] {
                     return baselines::cusparse_forward(gd, qd.view(), kd.view(), vd.view(), o.hops,
                                                        static_cast<float>(o.alpha), out.view(), o.reps);
                   });
      run_baseline("dense", o.dense && n <= 16384, row.dense, row.has_dense, row.dense_note, row.dense_err,
                   [&] {
                     return baselines::dense_forward(gd, qd.view(), kd.view(), vd.view(), o.hops,
                                                     static_cast<float>(o.alpha), out.view(), o.reps);
                   });
    }
    rows.push_back(std::move(row));
    units_done += static_cast<double>(n);
    progress.update(units_done);
  }
  progress.finish();

  std::printf("\nratios (baseline ms / ours ms; peak memory baseline / ours), same run, same inputs:\n");
  for (const auto& r : rows) {
    for (const auto& ours : r.ours) {
      std::string line = cat("  N=", r.n, " ", dtype_name(ours.dtype), ":");
      if (r.has_cusparse)
        line += cat(" cusparse x", r.cusparse.total_ms / ours.forward_ms, " (memory x",
                    double(r.cusparse.peak_bytes) / double(ours.peak_bytes), ")");
      if (r.has_dense)
        line += cat(" dense x", r.dense.total_ms / ours.forward_ms, " (memory x",
                    double(r.dense.peak_bytes) / double(ours.peak_bytes), ")");
      if (ours.dtype == DType::bf16 && r.ours.front().dtype == DType::fp32)
        line += cat(" ours fp32 x", r.ours.front().forward_ms / ours.forward_ms);
      std::printf("%s\n", line.c_str());
    }
    if (r.device_graph_ms >= 0)
      std::printf("  N=%lld: graph on the CPU %.1f ms, on the GPU from the edge list %.1f ms (%s)\n",
                  static_cast<long long>(r.n), r.graph_ms, r.device_graph_ms,
                  r.device_graph_equal ? "identical" : "DIFFERENT");
  }
  if (o.json) {
    Json j;
    j["backend"] = "cuda";
    j["device"] = describe_device(Device::cuda);
    j["build"] = build_info(Device::cuda);
    j["pattern"] = o.pattern;
    j["heads"] = o.H;
    j["dim"] = o.D;
    j["hops"] = o.hops;
    j["alpha"] = o.alpha;
    j["reps"] = o.reps;
    j["schedule"] = current_context().cuda_schedule_text();
    j["copy_gbps"] = copy;
    auto measured = [](double v) { return v >= 0 ? Json(v) : Json(nullptr); };  // -1: not measured
    Json rows_json = Json::array();
    for (const auto& r : rows) {
      Json row;
      row["n"] = r.n;
      row["edges"] = r.edges;
      row["graph_ms"] = r.graph_ms;
      row["device_graph_ms"] = measured(r.device_graph_ms);
      Json ours = Json::array();
      for (const auto& u : r.ours) {
        Json variants = Json::object();
        for (const auto& [spec, ms] : u.variants) variants[spec] = ms;
        ours.push_back(Json{{"dtype", dtype_name(u.dtype)},
                            {"forward_ms", u.forward_ms},
                            {"oneshot_ms", u.oneshot_ms},
                            {"enqueue_ms", u.enqueue_ms},
                            {"scores_ms", u.scores_ms},
                            {"hop_ms", u.hop_ms},
                            {"prepare_ms", u.prepare_ms},
                            {"model_bytes", u.model_bytes},
                            {"gathered_bytes", u.gathered_bytes},
                            {"peak_bytes", u.peak_bytes},
                            {"rel_diff_vs_fp32", measured(u.err_vs_fp32)},
                            {"variants", variants}});
      }
      row["ours"] = ours;
      auto timing = [&](bool has, const baselines::Timing& t, const std::string& note, double err) {
        if (!has) return Json{{"skipped", note}};
        return Json{{"total_ms", t.total_ms},     {"scores_ms", t.scores_ms},
                    {"softmax_ms", t.softmax_ms}, {"hop_ms", t.hop_ms},
                    {"peak_bytes", t.peak_bytes}, {"rel_diff_vs_ours", measured(err)}};
      };
      row["cusparse"] = timing(r.has_cusparse, r.cusparse, r.cusparse_note, r.cusparse_err);
      row["dense"] = timing(r.has_dense, r.dense, r.dense_note, r.dense_err);
      rows_json.push_back(row);
    }
    j["rows"] = rows_json;
    AtomicOutput out(*o.json, false);
    out.stream() << dump_json(j) << "\n";
    out.commit();
  }
  return 0;
}

int run(Args& args) {
  if (const auto mode = args.get("distributed")) return run_bench_distributed(args, *mode);
  if (args.flag("no-overlap")) throw UsageError("--no-overlap goes with --distributed tokens");
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
  const auto dtype_arg = args.get("dtype");
  const auto baselines_arg = args.get("baselines");
  const auto variants_arg = args.get("variants");
  const auto schedule_arg = args.get("schedule");
  const bool device_graph = args.flag("device-graph");
  const bool quiet = args.flag("quiet");
  args.finish();
  if (dev == Device::cuda) {
    if (H <= 0 || D <= 0) throw UsageError("--heads and --dim must be positive");
    if (reps < 1) throw UsageError("--reps must be at least 1");
    CudaOptions o;
    o.sizes = sizes;
    o.pattern = pattern;
    o.H = H;
    o.D = D;
    o.hops = hops;
    o.alpha = alpha;
    o.reps = reps;
    o.seed = seed;
    o.json = json;
    o.device_graph = device_graph;
    o.quiet = quiet;
    if (dtype_arg) {
      o.dtypes.clear();
      for (const auto& t : split(*dtype_arg, ',')) o.dtypes.push_back(parse_dtype(t));
      if (o.dtypes.empty()) throw UsageError("--dtype needs fp32, bf16 or both");
    }
    if (baselines_arg) {
      o.cusparse = o.dense = false;
      for (const auto& b : split(*baselines_arg, ',')) {
        if (b == "cusparse")
          o.cusparse = true;
        else if (b == "dense")
          o.dense = true;
        else if (b == "both")
          o.cusparse = o.dense = true;
        else if (b != "none")
          throw UsageError(cat("--baselines: unknown baseline '", b, "' (cusparse, dense, none)"));
      }
    }
    if (variants_arg) o.variants = split(*variants_arg, ';');
    (void)diffusion::Coefficients::ppr(hops, alpha);  // validates --hops and --alpha
    if (json) check_output_path(*json, "--json");
    require_device(dev);
    cli::CommandContext command_context(threads, schedule_arg);
    for (const auto& v : o.variants) {  // reject a bad spec before any work
      ContextOptions variant = current_context().options();
      variant.cuda.schedule += "," + v;
      (void)Context(variant);
    }
    return run_cuda(o);
  }
  if (dtype_arg && *dtype_arg != "fp32")
    throw UsageError(
        "--dtype bf16 is timed on the GPU only (--backend cuda); the CPU's bf16 path converts to fp32");
  if (baselines_arg || variants_arg || schedule_arg || device_graph)
    throw UsageError("--baselines, --variants, --schedule and --device-graph need --backend cuda");
  if (H <= 0 || D <= 0) throw UsageError("--heads and --dim must be positive");
  if (reps < 1) throw UsageError("--reps must be at least 1");
  const auto coeffs = diffusion::Coefficients::ppr(hops, alpha);
  if (json) check_output_path(*json, "--json");
  require_device(dev);
  cli::CommandContext command_context(threads);

  std::printf("diffuser bench: %s\n", describe_device(dev).c_str());
  std::printf("pattern %s, H=%lld, D=%lld, %s, %d reps (median)\n", pattern.c_str(),
              static_cast<long long>(H), static_cast<long long>(D), coeffs.describe().c_str(), reps);
  const double triad = baselines::triad_gbps(32 << 20, 5);
  const double peak = baselines::fma_peak_gflops();
  const char* isa = cpu_isa_name(current_context().cpu_isa());
  std::printf(
      "machine ceilings (measured now, %d threads, CPU level %s): triad %.1f GB/s, FMA peak %.1f GFLOP/s\n\n",
      current_context().cpu_threads(), isa, triad, peak);
  std::printf("%8s %11s %9s | %9s %7s %6s %6s | %9s %7s %6s %6s | %9s %9s | %9s\n", "N", "edges", "graph ms",
              "weights ms", "GF/s", "%peak", "GB/s", "hop ms", "GF/s", "%peak", "GB/s", "forward", "Medges/s",
              "peak RSS");

  std::vector<Row> rows;
  // Work grows about linearly with N: a run at N counts N units.
  Progress progress("bench", progress_style(quiet));
  double total_units = 0, units_done = 0;
  for (const std::int64_t n : sizes) total_units += static_cast<double>(n) * (reps + 1);
  progress.stage("forward runs", total_units);
  for (std::size_t si = 0; si < sizes.size(); ++si) {
    Row row;
    row.n = sizes[si];
    const double units_at_start = units_done;
    reset_peak_rss();
    Stopwatch gsw;
    Csr g = graphs::build_pattern(pattern, row.n, seed);
    row.graph_ms = gsw.ms();
    row.edges = g.num_edges();
    const auto need = diffusion::forward_bytes(row.n, row.edges, H, D, 5);
    if (need > available_memory_bytes() && available_memory_bytes() > 0) {
      row.skipped =
          cat("skipped: needs ", format_bytes(need), ", ", format_bytes(available_memory_bytes()), " free");
      progress.finish();
      std::printf("%8lld %11s %s\n", static_cast<long long>(row.n), group_digits(row.edges).c_str(),
                  row.skipped.c_str());
      rows.push_back(row);
      units_done += static_cast<double>(row.n) * (reps + 1);
      continue;
    }
    Tensor3<float> q(row.n, H, D), k(row.n, H, D), v(row.n, H, D);
    fill_normal(q.buffer(), seed, 1, threads > 0 ? threads : current_context().cpu_threads());
    fill_normal(k.buffer(), seed, 2, threads > 0 ? threads : current_context().cpu_threads());
    fill_normal(v.buffer(), seed, 3, threads > 0 ? threads : current_context().cpu_threads());
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
      units_done += static_cast<double>(row.n);
      progress.update(units_done, cat("N = ", group_digits(row.n), ", run ", r + 1, "/", reps + 1));
      if (r == 0) continue;
      w_ms.push_back(t.scores_ms);
      hop_ms.insert(hop_ms.end(), t.hop_ms.begin(), t.hop_ms.end());
      fwd_ms.push_back(t.total_ms());
    }
    row.weights_ms = median(w_ms);
    row.hop_ms = median(hop_ms);
    row.forward_ms = median(fwd_ms);
    units_done = units_at_start + static_cast<double>(row.n) * (reps + 1);
    if (naive && si == 0) {  // medians of up to 3 runs each (a single-threaded run takes seconds)
      Tensor3<float> zn(row.n, H, D);
      const Tensor3<float> ours = out.to(Device::cpu);
      for (const bool parallel : {false, true}) {
        std::vector<double> ms;
        for (int r = 0; r < std::min(reps, 3); ++r) {
          progress.update(units_done, cat("N = ", group_digits(row.n), ", naive loop (",
                                          parallel ? "parallel" : "1 thread", ") run ", r + 1));
          Stopwatch nsw;
          baselines::naive_forward(g, q, k, v, hops, static_cast<float>(alpha), zn, parallel);
          ms.push_back(nsw.ms());
        }
        (parallel ? row.naive_par_ms : row.naive_ms) = median(ms);
        (parallel ? row.naive_par_err : row.naive_err) = rel_diff(ours, zn);
      }
    }
    row.peak_rss = peak_rss_bytes();
    const double E = double(row.edges), nhd = double(row.n) * double(H) * double(D);
    const double flops = 2.0 * E * double(H) * double(D);
    const double w_bytes = 2 * nhd * 4 + E * double(H) * 4, hop_bytes = E * double(H) * 4 + 3 * nhd * 4;
    auto gf = [&](double ms) { return flops / (ms * 1e6); };
    progress.finish();  // the bar's line is free for the table row
    std::printf(
        "%8lld %11s %9.1f | %9.2f %7.1f %5.0f%% %6.1f | %9.2f %7.1f %5.0f%% %6.1f | %9.2f %9.1f | %9s\n",
        static_cast<long long>(row.n), group_digits(row.edges).c_str(), row.graph_ms, row.weights_ms,
        gf(row.weights_ms), 100 * gf(row.weights_ms) / peak, w_bytes / (row.weights_ms * 1e6), row.hop_ms,
        gf(row.hop_ms), 100 * gf(row.hop_ms) / peak, hop_bytes / (row.hop_ms * 1e6), row.forward_ms,
        E * (1 + hops) / (row.forward_ms * 1e3), format_bytes(row.peak_rss).c_str());
    rows.push_back(row);
  }
  progress.finish();
  std::printf("\n");
  for (const auto& r : rows) {
    if (!r.skipped.empty()) continue;
    const double gathered = double(r.edges) * double(H) * double(D) * 4;
    std::printf(
        "N=%lld: hop gathers %.1f GB/s of neighbour rows (%.1fx the triad bandwidth: served by the caches)\n",
        static_cast<long long>(r.n), gathered / (r.hop_ms * 1e6), gathered / (r.hop_ms * 1e6) / triad);
    const double fwd_flops = 2.0 * double(r.edges) * double(H) * double(D) * (1 + hops);
    std::printf("N=%lld: forward %.1f GFLOP/s = %.0f%% of the FMA peak (%s, %d threads, fp32)\n",
                static_cast<long long>(r.n), fwd_flops / (r.forward_ms * 1e6),
                100 * fwd_flops / (r.forward_ms * 1e6) / peak, isa, current_context().cpu_threads());
    if (r.naive_ms > 0) {
      const int t = current_context().cpu_threads();
      std::printf("N=%lld: naive loop, 1 thread: %.1f ms -> forward %.1fx faster (outputs agree to %.1e)\n",
                  static_cast<long long>(r.n), r.naive_ms, r.naive_ms / r.forward_ms, r.naive_err);
      std::printf(
          "N=%lld: naive loop, %d thread%s: %.1f ms -> forward %.1fx faster (agree to %.1e; the naive "
          "loop gains %.2fx from %d threads)\n",
          static_cast<long long>(r.n), t, t == 1 ? "" : "s", r.naive_par_ms, r.naive_par_ms / r.forward_ms,
          r.naive_par_err, r.naive_ms / r.naive_par_ms, t);
    }
  }
  if (json) {
    Json j;
    j["device"] = describe_device(dev);
    j["build"] = build_info(dev);
    j["pattern"] = pattern;
    j["heads"] = H;
    j["dim"] = D;
    j["hops"] = hops;
    j["alpha"] = alpha;
    j["reps"] = reps;
    j["threads"] = current_context().cpu_threads();
    j["cpu_isa"] = isa;
    j["triad_gbps"] = triad;
    j["fma_peak_gflops"] = peak;
    auto measured = [](double v) { return v >= 0 ? Json(v) : Json(nullptr); };  // -1: not measured
    Json rows_json = Json::array();
    for (const auto& r : rows) {
      const bool ran = r.skipped.empty();
      rows_json.push_back(Json{{"n", r.n},
                               {"edges", r.edges},
                               {"graph_ms", r.graph_ms},
                               {"weights_ms", ran ? Json(r.weights_ms) : Json(nullptr)},
                               {"hop_ms", ran ? Json(r.hop_ms) : Json(nullptr)},
                               {"forward_ms", ran ? Json(r.forward_ms) : Json(nullptr)},
                               {"naive_ms", measured(r.naive_ms)},
                               {"naive_rel_err", measured(r.naive_err)},
                               {"naive_parallel_ms", measured(r.naive_par_ms)},
                               {"naive_parallel_rel_err", measured(r.naive_par_err)},
                               {"peak_rss_bytes", ran ? Json(r.peak_rss) : Json(nullptr)},
                               {"skipped", ran ? Json(nullptr) : Json(r.skipped)}});
    }
    j["rows"] = rows_json;
    AtomicOutput out(*json, false);
    out.stream() << dump_json(j) << "\n";
    out.commit();
  }
  return 0;
}

const Registrar reg({
    .name = "bench",
    .summary = "time each stage of the forward over a sweep of N, with in-process baselines",
    .usage = {"[--sizes N1,N2,..] [--pattern SPEC] [--heads H] [--dim D] [--hops K]",
              "[--alpha A] [--reps R] [--threads T] [--backend cpu|cuda] [--seed S]",
              "[--no-naive] [--json FILE] [--quiet] [--distributed heads|tokens [--no-overlap]]",
              "GPU only: [--dtype fp32,bf16] [--baselines cusparse,dense] [--variants S1;S2;..]",
              "          [--schedule SPEC] [--device-graph]"},
    .about = "Times the Diffuser forward (fused scores+softmax, then K fused hops) for each N and prints the\n"
             "median of R runs of every stage: ms, edges/s, GFLOP/s and GB/s, with the peak RSS. In the same\n"
             "run it measures this machine's ceilings, a STREAM-like triad (GB/s) and an FMA loop (GFLOP/s),\n"
             "and prints each stage as a share of them; at the smallest N it also times a straightforward\n"
             "per-edge loop, single-threaded and parallelised over the same threads (compiled for the same\n"
             "CPU level), and prints the speedup over each (and checks the outputs agree).\n"
             "\n"
             "With --backend cuda it measures the device-to-device copy bandwidth first, then per N and dtype\n"
             "the forward end to end (no synchronisation inside) and per stage, achieved GB/s of the bytes\n"
             "model against the copy bandwidth, peak device memory, and in-process baselines on the same\n"
             "inputs: cuSPARSE (SDDMM + segmented softmax + SpMM per hop, heads block-diagonal) and dense\n"
             "cuBLAS masked attention (N <= 16384), with the ratios and the agreement of the outputs.\n"
             "\n"
             "Bytes model (s = 4 bytes fp32, 2 bf16): weights = Q + K read, W and col read/written\n"
             "(2*N*H*D*s + E*H*4 + E*4); hop = W + col + X + Y read and Z written (E*H*4 + E*4 + 3*N*H*D*s).\n"
             "'gathered' counts every neighbour row a pass touches (E*H*D*s), most of which the caches serve.\n"
             "FLOPs: 2*E*H*D per pass.\n",
    .options = {
        {"options",
         {
          {.label = "--sizes LIST",
           .help = "token counts (default 1024,4096,16384,65536)"},
          {.label = "--pattern SPEC",
           .help = "graph pattern (default: the authors' recipe, diffuser)"},
          {.label = "--heads H", .help = "heads (default 12)", .type = Option::Type::integer},
          {.label = "--dim D", .help = "head size (default 64)", .type = Option::Type::integer},
          {.label = "--hops K", .help = "hops (default 5)", .type = Option::Type::integer},
          {.label = "--alpha A", .help = "teleport weight (default 0.1)", .type = Option::Type::number},
          {.label = "--reps R",
           .help = "timed repetitions per N (default 5)", .type = Option::Type::integer, .min = 1},
          {.label = "--threads T", .help = "CPU threads (default: all)", .type = Option::Type::integer, .min = 1, .max = 4096},
          {.label = "--backend cpu|cuda", .help = "where to time (default cpu)"},
          {.label = "--seed S",
           .help = "seed of the graph and the data (default 0)", .type = Option::Type::integer},
          {.label = "--no-naive",
           .help = "skip the naive loops"},
          {.label = "--json FILE",
           .help = "also write every number as JSON, with the build (commit, build type, compiler, flags, CPU level in use, CUDA device); values not measured are null"},
          {.label = "--quiet",
           .help = "no progress on stderr (after 2 s: a bar on a terminal, else a line now and then)"},
          {.label = "--dtype LIST",
           .help = "(cuda) element types of Q, K, V, Z to time: fp32, bf16 or both (default fp32)"},
          {.label = "--baselines LIST", .help = "(cuda) cusparse, dense, both (default) or none"},
          {.label = "--variants LIST",
           .help = "(cuda) kernel schedules to time side by side, separated by ';' (e.g. 'hop=w32;hop=w16;hop=h2;hop=row,layout=em'; see baselines.hpp)"},
          {.label = "--schedule SPEC",
           .help = "(cuda) the kernel schedule of the main runs (default: the built-in one)"},
          {.label = "--device-graph",
           .help = "(cuda) also build each graph on the GPU from its edge list and check it"},
          {.label = "--distributed heads|tokens",
           .help = "time the sequence-parallel forward over the ranks of `mpirun -np P diffuser bench ...` (--sizes, --pattern, --heads, --dim, --hops, --alpha, --reps, --seed, --threads): per rank the time, compute vs communication and the bytes sent and received (docs/DISTRIBUTED.md)"},
          {.label = "--no-overlap",
           .help = "(--distributed tokens) exchange each halo before the step that reads it instead of overlapping it with the rows that read none, to measure the overlap (the same result bit for bit)"},
         }},
    },
    .notes = "examples:\n"
             "  diffuser bench --sizes 1024,4096 --threads 2\n"
             "  diffuser bench --backend cuda --sizes 4096,65536 --dtype fp32,bf16\n"
             "  mpirun -np 2 diffuser bench --distributed heads --sizes 16384 --threads 1\n",
    .docs = "[BENCHMARKS.md](BENCHMARKS.md), [GPU.md](GPU.md)",
    .run = &run,
    .order = 40,
});

}  // namespace
}  // namespace diffuser::cli
