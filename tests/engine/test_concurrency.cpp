// Library calls from several host threads at once (issue: the engine as an embeddable library):
// 8 threads, each in its own context or all in one, on different graphs or the same graph, give
// exactly the results of serial calls. (The CUDA twin runs in tests/cuda on a GPU.)
#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/cpu_isa.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "support/reference.hpp"

using namespace diffuser;

namespace {

struct Job {
  const Csr* g;
  Tensor3<float> q, k, v, dz;
};

// Forward, then the backward in two head groups: everything the diffusion computes, in one vector.
std::vector<float> run(const Job& j) {
  const auto c = diffusion::Coefficients::ppr(4, 0.1);
  const Tensor3<float> z = diffusion::diffuse(*j.g, j.q.view(), j.k.view(), j.v.view(), c);
  const ReverseGraph rg(*j.g);
  const std::int64_t n = j.q.n(), h = j.q.h(), d = j.q.d();
  Tensor3<float> dq(n, h, d), dk(n, h, d), dv(n, h, d);
  diffusion::BackwardOptions bo;
  bo.head_groups = 2;
  diffusion::diffuse_backward(*j.g, rg, j.q.view(), j.k.view(), j.v.view(), {}, c, j.dz.view(), dq.view(),
                              dk.view(), dv.view(), bo, nullptr);
  std::vector<float> out = z.buffer().to_vector();
  for (const auto* t : {&dq, &dk, &dv}) {
    const auto x = t->buffer().to_vector();
    out.insert(out.end(), x.begin(), x.end());
  }
  return out;
}

ContextOptions options(CpuIsa isa, int threads) {
  ContextOptions o = current_context().options();
  o.cpu.isa = isa;
  o.cpu.threads = threads;
  o.cpu.hub_threshold = 600;  // the recipe's global tokens take the hub panels at this size
  o.cpu.panels = true;        // at every level (by default generic does not run them): the plans below
  return o;
}

}  // namespace

TEST_CASE("8 host threads in their own contexts or one shared context give the serial results bit for bit",
          "[cpu][engine][concurrency]") {
  const Csr recipe = graphs::build_pattern("diffuser", 1100, 3);  // panels, hub rows
  const Csr random = test::random_graph(900, 20, 4, {7}, {0, 5});
  std::vector<Job> jobs;
  for (const Csr* g : {&recipe, &random, &recipe, &random}) {
    const std::int64_t n = g->num_nodes(), seed = static_cast<std::int64_t>(jobs.size()) * 10;
    jobs.push_back({g, test::random_tensor(n, 4, 64, seed + 1), test::random_tensor(n, 4, 64, seed + 2),
                    test::random_tensor(n, 4, 64, seed + 3), test::random_tensor(n, 4, 64, seed + 4)});
  }
  const auto levels = cpu_isa_levels();
  // Thread t runs job t % 4 at level t % levels, on 1 + t % 2 threads of its own.
  auto config = [&](std::size_t t) {
    return options(levels[t % levels.size()], 1 + static_cast<int>(t % 2));
  };
  std::vector<std::vector<float>> serial(8);
  for (std::size_t t = 0; t < 8; ++t) {
    const Context ctx(config(t));
    ContextScope scope(ctx);
    serial[t] = run(jobs[t % jobs.size()]);
  }

  SECTION("each thread in its own context, graphs shared between threads") {
    for (int round = 0; round < 3; ++round) {
      std::vector<std::vector<float>> got(8);
      std::vector<std::thread> threads;
      for (std::size_t t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
          const Context ctx(config(t));
          ContextScope scope(ctx);
          got[t] = run(jobs[t % jobs.size()]);
        });
      for (auto& th : threads) th.join();
      for (std::size_t t = 0; t < 8; ++t) {
        CAPTURE(round, t);
        REQUIRE(got[t] == serial[t]);
      }
    }
  }

  SECTION("all threads in one context (one TBB arena), on the same graph") {
    const Context shared(options(levels.back(), 2));
    std::vector<float> reference;
    {
      ContextScope scope(shared);
      reference = run(jobs[0]);
    }
    std::vector<std::vector<float>> got(8);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 8; ++t)
      threads.emplace_back([&, t] {
        ContextScope scope(shared);
        got[t] = run(jobs[0]);
      });
    for (auto& th : threads) th.join();
    for (std::size_t t = 0; t < 8; ++t) REQUIRE(got[t] == reference);
  }
  // The recipe's panel plans were built once per option set and kept with the graph.
  REQUIRE(recipe.plans()->entries() >= 1);
}

TEST_CASE("a thread's context does not leak into another thread", "[cpu][engine][concurrency]") {
  const auto levels = cpu_isa_levels();
  const Context mine(options(levels.front(), 1));
  ContextScope scope(mine);
  CpuIsa seen = levels.front();
  int threads_seen = 0;
  std::thread other([&] {
    seen = current_context().cpu_isa();  // the process default: the best level, every thread
    threads_seen = current_context().cpu_threads();
  });
  other.join();
  REQUIRE(current_context().cpu_isa() == levels.front());
  REQUIRE(seen == Context::process_default().cpu_isa());
  REQUIRE(threads_seen == Context::process_default().cpu_threads());
}
