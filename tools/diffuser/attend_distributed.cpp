// `diffuser attend --distributed heads|tokens` under mpirun: the same Z (and dQ, dK, dV with
// --grad-out) as one process. Every rank builds the graph; rank 0 reads the .npy inputs, scatters each
// rank's rows, gathers the result rows and writes the outputs (all or nothing, as attend).
#include <cstdio>
#include <filesystem>
#include <optional>

#include <diffuser/diffusion/distributed.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/npy.hpp>
#include <diffuser/engine/sys.hpp>

#include "attend_distributed.hpp"
#include "attend_io.hpp"
#include "command_context.hpp"
#include "distributed_run.hpp"
#include "grad_attend.hpp"
#include "graph_source.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

namespace {

namespace fs = std::filesystem;
namespace dist = diffusion::distributed;

struct Options {
  fs::path q, k, v, out;
  std::optional<fs::path> mask, grad_out, grads_dir;
  std::optional<diffusion::Coefficients> coeffs;
  int threads = 0;
};

// Rank 0 writes the files: it takes --grad-out and --grads-dir as the single-process attend does
// (AttendGrads creates DIR when missing and removes it again, empty, when the run fails or a signal
// ends it); the other ranks only read the names.
Options parse(Args& args, bool root, std::optional<AttendGrads>& grads) {
  for (const char* unsupported : {"weights-out", "edges-out", "backend", "dtype"})
    if (args.get(unsupported))
      throw UsageError(cat("--", unsupported, " is not supported with --distributed (CPU, float32, Z and gradients only)"));
  Options o;
  o.q = args.require("q");
  o.k = args.require("k");
  o.v = args.require("v");
  o.out = args.require("out");
  if (auto m = args.get("mask")) o.mask = *m;
  if (root) {
    grads.emplace(attend_grad_options(args));
    o.grad_out = grads->grad_out;
    o.grads_dir = grads->grads_dir;
  } else {
    if (auto g = args.get("grad-out")) o.grad_out = *g;
    if (auto d = args.get("grads-dir")) o.grads_dir = *d;
  }
  const auto hops = args.get_int("hops");
  const auto alpha = args.get_double("alpha");
  const auto theta = args.get_doubles("theta");
  const auto heat = args.get_double("heat");
  o.threads = threads_option(args);
  finish_except_graph_options(args);
  o.coeffs = coefficients_from(hops, alpha, theta, heat);
  if (o.grad_out.has_value() != o.grads_dir.has_value()) throw UsageError("--grad-out and --grads-dir go together");
  if (root) {
    std::vector<std::pair<std::string, fs::path>> outputs{{"out", o.out}};
    if (o.grads_dir)
      for (const char* name : {"dQ.npy", "dK.npy", "dV.npy"}) outputs.emplace_back("grads-dir", *o.grads_dir / name);
    check_distinct_outputs(outputs);
    check_output_path(o.out, "out");
  }
  return o;
}

// One line per rank of the token partition: rows, interior rows, halo rows, cut edges.
void print_partition(Communicator& comm, const dist::HaloPlan& plan) {
  constexpr int kFields = 5;
  const int P = comm.size();
  std::vector<double> all(static_cast<std::size_t>(P * kFields), 0.0);
  double* r = all.data() + comm.rank() * kFields;
  r[0] = static_cast<double>(plan.own_rows());
  r[1] = static_cast<double>(plan.halo_rows());
  r[2] = static_cast<double>(plan.cut_edges());
  r[3] = static_cast<double>(plan.local_graph().num_edges());
  r[4] = static_cast<double>(plan.interior_rows());
  comm.all_reduce_sum(all);
  if (comm.rank() != 0) return;
  auto digits = [](double v) { return group_digits(static_cast<std::int64_t>(v)); };
  for (int p = 0; p < P; ++p) {
    const double* x = all.data() + p * kFields;
    std::printf(
        "  rank %d: %s rows (%s interior), %s edges, %s of them cut (source on another rank), %s halo rows "
        "per hop\n",
        p, digits(x[0]).c_str(), digits(x[4]).c_str(), digits(x[3]).c_str(), digits(x[2]).c_str(),
        digits(x[1]).c_str());
  }
}

int attend_on_ranks(Args& args, DistributedMode mode, Communicator& comm) {
  const int me = comm.rank(), P = comm.size();
  const bool root = me == 0;
  Options o;
  std::optional<AttendGrads> grads_dir;  // rank 0: owns a --grads-dir it created (outlives the outputs)
  agreed(comm, [&] { o = parse(args, root, grads_dir); });
  CommandContext command_context(o.threads);
  std::optional<GraphSource> src;
  agreed(comm, [&] {
    src.emplace(graph_from_args(args));
    args.finish();
  });
  const Csr& g = src->graph;

  // Rank 0 reads every input; the others wait for the verdict.
  AttendInputs in;
  Buffer<float> qw, kw, vw, dzw;
  Buffer<std::uint8_t> mw;
  agreed(comm, [&] {
    if (!root) return;
    in = inspect_inputs(o.q, o.k, o.v, o.mask);
    if (g.num_nodes() != in.n)
      throw Error(cat("N mismatch: the graph (", src->description, ") has ", g.num_nodes(), " nodes but ",
                      o.q.string(), " has ", in.n, " tokens"));
    // Rank 0 holds the whole inputs and outputs (Q, K, V, dZ; Z, dQ, dK, dV).
    const std::int64_t whole = in.n * in.h * in.d * 4;
    require_memory(whole * (o.grad_out ? 8 : 4), cat("rank 0 reading and writing the whole arrays (N=", in.n,
                                                     " H=", in.h, " D=", in.d, ")"));
    qw = load_features(in.q, in);
    kw = load_features(in.k, in);
    vw = load_features(in.v, in);
    if (in.mask) mw = load_mask(in);
    if (o.grad_out) {
      const AttendInputs dz = inspect_inputs(*o.grad_out, *o.grad_out, *o.grad_out, std::nullopt);
      if (dz.n != in.n || dz.h != in.h || dz.d != in.d)
        throw Error(cat(o.grad_out->string(), " has shape (", dz.n, ", ", dz.h, ", ", dz.d, ") but Z is (", in.n, ", ",
                        in.h, ", ", in.d, ")"));
      dzw = load_features(*o.grad_out, dz);
    }
  });
  std::int64_t shape[3] = {in.n, in.h, in.d};
  comm.broadcast(shape, sizeof(shape), 0);
  const std::int64_t n = shape[0], H = shape[1], D = shape[2];
  agreed(comm, [&] {
    if (P > n)
      throw Error(cat("mpirun started ", P, " ranks for ", n, " tokens: at most one rank per token"));
    if (mode == DistributedMode::heads && P > H)
      throw Error(cat("--distributed heads with ", P, " ranks needs at least ", P, " heads, the inputs have ", H,
                      " (use --distributed tokens)"));
  });
  const int hops = o.coeffs->plain_attention() ? 1 : o.coeffs->hops();
  if (mode == DistributedMode::heads)
    agreed(comm, [&] {
      const std::int64_t bytes = dist::heads_rank_bytes(n, g.num_edges(), H, D, P, hops, o.grad_out.has_value());
      if (root) std::printf("memory per rank (model, heads): %s\n", format_bytes(bytes).c_str());
      require_memory(bytes, cat("rank ", me, " of ", P, " (heads, N=", n, " E=", g.num_edges(), ")"));
    });
  Buffer<std::uint8_t> mask;
  if (o.mask) {
    mask = root ? std::move(mw) : Buffer<std::uint8_t>(n);
    comm.broadcast(mask.data(), n, 0);
  }

  if (root) {
    std::printf("graph:    %s: %s nodes, %s edges (%.1f per token)\n", src->description.c_str(),
                group_digits(n).c_str(), group_digits(g.num_edges()).c_str(),
                static_cast<double>(g.num_edges()) / static_cast<double>(n));
    std::printf("inputs:   Q %s, K %s, V %s\n", describe_input(in.q, in.hq).c_str(), describe_input(in.k, in.hk).c_str(),
                describe_input(in.v, in.hv).c_str());
    std::printf("diffusion: %s\n", o.coeffs->describe().c_str());
    std::printf("distributed: %s over %d ranks (%s), rank 0 reads and writes the files\n",
                distributed_mode_name(mode), P, comm.transport());
    std::fflush(stdout);
  }

  const dist::Split tokens = dist::Split::even(n, P);
  const std::int64_t row = H * D, own = tokens.size(me), first = tokens.begin(me);
  Stopwatch sw;
  const Buffer<float> q = scatter_rows(comm, tokens, qw.data(), row);
  const Buffer<float> k = scatter_rows(comm, tokens, kw.data(), row);
  const Buffer<float> v = scatter_rows(comm, tokens, vw.data(), row);
  qw = Buffer<float>();
  kw = Buffer<float>();
  vw = Buffer<float>();
  const double scatter_ms = sw.ms();
  auto view = [&](const Buffer<float>& b) { return tensor3_view<const float>(b.data(), own, H, D); };
  const ops::NodeMask whole_mask = o.mask ? ops::NodeMask{mask.data(), n} : ops::NodeMask{};

  dist::Stats forward, backward;
  Tensor3<float> z;
  std::optional<dist::Gradients> grads;
  double plan_ms = 0;
  if (mode == DistributedMode::heads) {
    z = dist::diffuse_heads(comm, g, tokens, view(q), view(k), view(v), whole_mask, *o.coeffs, &forward);
    if (o.grad_out) {
      const Buffer<float> dz = scatter_rows(comm, tokens, dzw.data(), row);
      dzw = Buffer<float>();
      grads = dist::diffuse_backward_heads(comm, g, tokens, view(q), view(k), view(v), whole_mask, *o.coeffs, view(dz),
                                           &backward);
    }
  } else {
    sw.reset();
    const dist::HaloPlan plan(comm, tokens, g);
    plan_ms = sw.ms();
    agreed(comm, [&] {
      const std::int64_t bytes = dist::tokens_rank_bytes(plan, H, D, hops, o.grad_out.has_value());
      require_memory(bytes, cat("rank ", me, " of ", P, " (tokens, ", plan.local_nodes(), " local rows, ",
                                plan.local_graph().num_edges(), " edges)"));
    });
    const ops::NodeMask own_mask = o.mask ? ops::NodeMask{mask.data() + first, own} : ops::NodeMask{};
    z = dist::diffuse_tokens(comm, plan, view(q), view(k), view(v), own_mask, *o.coeffs, &forward);
    if (o.grad_out) {
      const Buffer<float> dz = scatter_rows(comm, tokens, dzw.data(), row);
      dzw = Buffer<float>();
      grads = dist::diffuse_backward_tokens(comm, plan, view(q), view(k), view(v), own_mask, *o.coeffs, view(dz),
                                            &backward);
    }
    if (root) std::printf("token partition (halo plan built in %.1f ms on rank 0):\n", plan_ms);
    print_partition(comm, plan);
  }

  sw.reset();
  const Buffer<float> zw = gather_rows(comm, tokens, z.buffer().data(), row);
  Buffer<float> dqw, dkw, dvw;
  if (grads) {
    dqw = gather_rows(comm, tokens, grads->dq.buffer().data(), row);
    dkw = gather_rows(comm, tokens, grads->dk.buffer().data(), row);
    dvw = gather_rows(comm, tokens, grads->dv.buffer().data(), row);
  }
  agreed(comm, [&] {
    if (!root) return;
    OutputSet files;
    const auto save = [&](const fs::path& target, const char* option, const Buffer<float>& b) {
      files.write(target, option, [&](const fs::path& p) { npy::save(p, b.data(), {n, H, D}); });
    };
    save(o.out, "out", zw);
    if (grads) {
      save(*o.grads_dir / "dQ.npy", "grads-dir", dqw);
      save(*o.grads_dir / "dK.npy", "grads-dir", dkw);
      save(*o.grads_dir / "dV.npy", "grads-dir", dvw);
    }
    files.commit();
  });
  const double write_ms = sw.ms();

  if (root) std::printf("per rank (scatter %.1f ms, gather and write %.1f ms on rank 0):\n", scatter_ms, write_ms);
  print_rank_stats(comm, forward, "forward");
  if (grads) print_rank_stats(comm, backward, "backward");
  if (root) {
    std::printf("peak RSS (rank 0): %s\n", format_bytes(peak_rss_bytes()).c_str());
    std::printf("wrote:    %s (%lld, %lld, %lld) float32%s\n", o.out.c_str(), static_cast<long long>(n),
                static_cast<long long>(H), static_cast<long long>(D),
                grads ? cat(", ", o.grads_dir->string(), "/{dQ,dK,dV}.npy").c_str() : "");
  }
  return 0;
}

}  // namespace

int run_attend_distributed(Args& args, const std::string& mode_text) {
  const DistributedMode mode = parse_distributed_mode(mode_text);
  return run_distributed(args, [&](Communicator& comm) { return attend_on_ranks(args, mode, comm); });
}

}  // namespace diffuser::cli
