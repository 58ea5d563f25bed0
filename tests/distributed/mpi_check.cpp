// diffuser_mpi_check: the distributed modes against one process, run by mpirun with several ranks
// (ctest runs it with 2 and 3). Every rank builds the same inputs and the single-process reference,
// runs the distributed call on its rows and compares: head sharding bitwise, token partitioning
// within 1e-6 relative (gradients 5e-6). Prints one line per failed check; exit 0 only when every rank passed.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/diffusion/distributed.hpp>
#include <diffuser/engine/communicator.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/environment.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "rank_tensors.hpp"

namespace {

using namespace diffuser;
using test::rows_of;

// The seed of every input tensor (test::same_on_every_rank).
constexpr std::uint64_t kSeed = 42;

using diffusion::Coefficients;
namespace dist = diffusion::distributed;

int g_failures = 0;
int g_checks = 0;
double g_worst_forward = 0, g_worst_gradient = 0;  // token partitioning, for the record

void fail(const Communicator& comm, const std::string& what) {
  ++g_failures;
  std::printf("[rank %d] FAIL %s\n", comm.rank(), what.c_str());
  std::fflush(stdout);
}

// Token partitioning sums the gradients that flow between ranks in another order than one process
// (dK of a global token adds up to N terms): its gradients are held to 5e-6, its Z to 1e-6.
constexpr double kForwardTolerance = 1e-6, kGradientTolerance = 5e-6;

void compare(const Communicator& comm, const std::string& name, const Tensor3<float>& got, const Tensor3<float>& whole,
             std::int64_t begin, bool bitwise, double tolerance = kForwardTolerance) {
  ++g_checks;
  const std::int64_t count = got.buffer().size();
  const float* ref = whole.buffer().data() + begin * whole.h() * whole.d();
  if (bitwise) {
    for (std::int64_t i = 0; i < count; ++i)
      if (std::memcmp(&got.buffer()[i], &ref[i], sizeof(float)) != 0)
        return fail(comm, cat(name, ": element ", i, " of this rank's rows differs: ", got.buffer()[i], " vs ",
                              ref[i], " (expected bitwise equal)"));
    return;
  }
  double worst = 0, scale = 0;
  for (std::int64_t i = 0; i < whole.buffer().size(); ++i) scale = std::max(scale, std::fabs(double(whole.buffer()[i])));
  for (std::int64_t i = 0; i < count; ++i) worst = std::max(worst, std::fabs(double(got.buffer()[i]) - ref[i]));
  const double rel = worst / std::max(scale, 1e-30);
  double& record = tolerance == kForwardTolerance ? g_worst_forward : g_worst_gradient;
  record = std::max(record, rel);
  if (!(rel <= tolerance)) fail(comm, cat(name, ": relative error ", rel, " > ", tolerance));
}

struct Case {
  std::string name;
  std::string pattern = "blocks:16+random:8+global-at:0,700";
  std::int64_t n = 1201, h = 5, d = 8;
  Coefficients c = Coefficients::ppr(4, 0.1);
  bool mask = false;
  bool empty_rank = false;  // rank 1 owns no rows
  bool backward = false;
};

void run_case(Communicator& comm, const Case& k) {
  const Csr g = graphs::build_pattern(k.pattern, k.n, 7);
  const auto input = [&](std::uint64_t stream) { return test::same_on_every_rank(k.n, k.h, k.d, kSeed, stream); };
  const Tensor3<float> q = input(1), kk = input(2), v = input(3), dz = input(4);
  std::vector<std::uint8_t> mask;
  if (k.mask) {
    mask.assign(static_cast<std::size_t>(k.n), 1);
    for (std::int64_t i = k.n - 150; i < k.n; ++i) mask[static_cast<std::size_t>(i)] = 0;  // trailing padding
    for (std::int64_t i = 3; i < k.n; i += 97) mask[static_cast<std::size_t>(i)] = 0;     // and scattered
  }
  const ops::NodeMask whole_mask =
      k.mask ? ops::NodeMask{mask.data(), static_cast<std::int64_t>(mask.size())} : ops::NodeMask{};

  const int P = comm.size(), me = comm.rank();
  dist::Split tokens = dist::Split::even(k.n, P);
  if (k.empty_rank && P >= 2) {
    std::vector<std::int64_t> sizes(static_cast<std::size_t>(P), k.n / (P - 1));
    sizes[1] = 0;
    sizes.back() += k.n - (k.n / (P - 1)) * (P - 1);
    tokens = dist::Split::from_sizes(sizes);
  }
  const std::int64_t b = tokens.begin(me), e = tokens.end(me);

  const Tensor3<float> ref = diffusion::diffuse(g, q.view(), kk.view(), v.view(), k.c, whole_mask);

  // head sharding: bitwise
  if (P <= k.h) {
    const Tensor3<float> z =
        dist::diffuse_heads(comm, g, tokens, rows_of(q, b, e), rows_of(kk, b, e), rows_of(v, b, e), whole_mask, k.c);
    compare(comm, k.name + " / heads / Z", z, ref, b, true);
  }
  // token partitioning: 1e-6
  {
    const dist::HaloPlan plan(comm, tokens, g);
    const ops::NodeMask own_mask =
        k.mask ? ops::NodeMask{mask.data() + b, e - b} : ops::NodeMask{};
    const Tensor3<float> z =
        dist::diffuse_tokens(comm, plan, rows_of(q, b, e), rows_of(kk, b, e), rows_of(v, b, e), own_mask, k.c);
    compare(comm, k.name + " / tokens / Z", z, ref, b, false);
  }
  if (k.backward) {
    Tensor3<float> dq(k.n, k.h, k.d), dk(k.n, k.h, k.d), dv(k.n, k.h, k.d);
    const ReverseGraph rg(g);
    diffusion::diffuse_backward(g, rg, q.view(), kk.view(), v.view(), whole_mask, k.c, dz.view(), dq.view(), dk.view(),
                                dv.view());
    if (P <= k.h) {
      const dist::Gradients grads = dist::diffuse_backward_heads(comm, g, tokens, rows_of(q, b, e), rows_of(kk, b, e),
                                                                 rows_of(v, b, e), whole_mask, k.c, rows_of(dz, b, e));
      compare(comm, k.name + " / heads / dQ", grads.dq, dq, b, true);
      compare(comm, k.name + " / heads / dK", grads.dk, dk, b, true);
      compare(comm, k.name + " / heads / dV", grads.dv, dv, b, true);
    }
    const dist::HaloPlan plan(comm, tokens, g);
    const ops::NodeMask own_mask = k.mask ? ops::NodeMask{mask.data() + b, e - b} : ops::NodeMask{};
    const dist::Gradients grads = dist::diffuse_backward_tokens(comm, plan, rows_of(q, b, e), rows_of(kk, b, e),
                                                                rows_of(v, b, e), own_mask, k.c, rows_of(dz, b, e));
    compare(comm, k.name + " / tokens / dQ", grads.dq, dq, b, false, kGradientTolerance);
    compare(comm, k.name + " / tokens / dK", grads.dk, dk, b, false, kGradientTolerance);
    compare(comm, k.name + " / tokens / dV", grads.dv, dv, b, false, kGradientTolerance);
  }
}

std::vector<Case> cases() {
  std::vector<Case> list;
  list.push_back({.name = "ppr K=4, uneven rows and heads, hub rows across ranks", .backward = true});
  list.push_back({.name = "plain attention K=0", .c = Coefficients::ppr(0, 0.1), .backward = true});
  list.push_back({.name = "theta, no hop (Z = theta_0 V)", .c = Coefficients::custom({0.7}), .backward = true});
  list.push_back({.name = "theta K=2", .c = Coefficients::custom({0.5, 0.3, 0.2}), .backward = true});
  list.push_back({.name = "heat K=5", .c = Coefficients::heat(5, 1.5), .backward = true});
  list.push_back({.name = "padding mask", .mask = true, .backward = true});
  list.push_back({.name = "a rank with no rows", .empty_rank = true, .backward = true});
  list.push_back({.name = "the recipe at N = 2048 (64 global tokens)", .pattern = "diffuser", .n = 2048, .h = 4,
                  .d = 16, .backward = true});
  list.push_back({.name = "window graph, one head per rank", .pattern = "window:3", .n = 97, .h = 3, .d = 4,
                  .c = Coefficients::ppr(3, 0.2), .backward = true});
  return list;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    MpiSession mpi(&argc, &argv);
    const std::unique_ptr<Communicator> comm = mpi_world_communicator();
    ContextOptions options = context_options_from_environment();
    options.cpu.threads = 1;  // ranks share the cores (mpirun --oversubscribe)
    const Context ctx(options);
    ContextScope scope(ctx);
    for (const Case& k : cases()) {
      std::string error;
      try {
        run_case(*comm, k);
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (!error.empty()) fail(*comm, cat(k.name, ": ", error));
    }
    std::int64_t failed = g_failures;
    comm->all_reduce_max({&failed, 1});
    std::vector<double> worst(2 * static_cast<std::size_t>(comm->size()), 0.0);
    worst[2 * static_cast<std::size_t>(comm->rank())] = g_worst_forward;
    worst[2 * static_cast<std::size_t>(comm->rank()) + 1] = g_worst_gradient;
    comm->all_reduce_sum(worst);
    double wf = 0, wg = 0;
    for (std::size_t r = 0; r < worst.size(); r += 2) {
      wf = std::max(wf, worst[r]);
      wg = std::max(wg, worst[r + 1]);
    }
    if (comm->rank() == 0)
      std::printf("diffuser_mpi_check: %d ranks, %zu cases, %d checks per rank: %s (tokens: worst relative error "
                  "%.2g for Z, %.2g for gradients; heads bitwise)\n",
                  comm->size(), cases().size(), g_checks, failed ? "FAILED" : "all passed", wf, wg);
    return failed ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "diffuser_mpi_check: %s\n", e.what());
    return 2;
  }
}
