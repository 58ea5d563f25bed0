// The bitset primitives of multi-source BFS (ops_bits.hpp) against brute force on the CPU and
// against the CPU on the GPU, and reach() through them (the GPU's algorithm) against the CPU's
// frontier blocks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

#include <diffuser/diffusion/reach.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops_bits.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "analysis/analysis_test_util.hpp"
#include "cuda/cuda_test.hpp"

using namespace diffuser;
using diffusion::ReachOptions;
using diffusion::ReachResult;
using test::analysis::random_graph;

namespace {

using Words = std::vector<std::uint64_t>;

// Random words with about one bit in `sparsity` set (sparsity 1: uniform).
Words random_words(std::int64_t count, std::uint64_t seed, int sparsity) {
  Words v(static_cast<std::size_t>(count));
  for (std::int64_t x = 0; x < count; ++x) {
    std::uint64_t w = rng::bits(seed, 3, static_cast<std::uint64_t>(x));
    for (int s = 1; s < sparsity; s *= 2)
      w &= rng::bits(seed, 4 + static_cast<std::uint64_t>(s), static_cast<std::uint64_t>(x));
    v[static_cast<std::size_t>(x)] = w;
  }
  return v;
}

// Random graph with empty rows (the first `isolated` tokens), a hub row attending to every token
// and a hub column (token n - 1 attended by every token).
Csr awkward_graph(std::int64_t n, std::uint64_t seed) {
  const Csr base = random_graph(n, 3, seed, false, 2, 5);
  EdgeList e = base.edges();
  for (std::int32_t j = 0; j < n; ++j) e.add(j, static_cast<std::int32_t>(n / 2));
  for (std::int32_t i = 5; i < n; ++i) e.add(static_cast<std::int32_t>(n - 1), i);
  return Csr::from_edges(e);
}

Words brute_pull(const Csr& g, const Words& f, std::int64_t words) {
  Words out(f.size(), 0);
  for (std::int64_t i = 0; i < g.num_nodes(); ++i)
    for (const std::int32_t j : g.neighbors(i))
      for (std::int64_t w = 0; w < words; ++w)
        out[static_cast<std::size_t>(i * words + w)] |= f[static_cast<std::size_t>(j * words + w)];
  return out;
}

struct Advanced {
  Words visited, frontier;
  std::vector<std::int64_t> counts;
};

// Runs frontier_advance on `d` from host arrays and brings everything back.
Advanced advance_on(Device d, const Words& next, const Words& visited, std::int64_t words) {
  const std::int64_t n = static_cast<std::int64_t>(next.size()) / words;
  const Buffer<std::uint64_t> nb = Buffer<std::uint64_t>::from_host(next, d);
  Buffer<std::uint64_t> vb = Buffer<std::uint64_t>::from_host(visited, d);
  Buffer<std::uint64_t> fb = Buffer<std::uint64_t>::from_host(Words(next.size(), ~std::uint64_t{0}), d);
  Buffer<std::int64_t> cb =
      Buffer<std::int64_t>::from_host(std::vector<std::int64_t>(static_cast<std::size_t>(n), -1), d);
  ops::frontier_advance(nb.span(), vb.span(), fb.span(), words, cb.span());
  return {vb.to_vector(), fb.to_vector(), cb.to_vector()};
}

Words pull_on(Device d, const Csr& g, const Words& f, std::int64_t words) {
  const Csr dg = g.to(d);
  const Buffer<std::uint64_t> fb = Buffer<std::uint64_t>::from_host(f, d);
  Buffer<std::uint64_t> nb = Buffer<std::uint64_t>::from_host(Words(f.size(), 0xdeadbeefull), d);
  ops::frontier_pull(dg.view(), fb.span(), nb.span(), words);
  return nb.to_vector();
}

void check_same(const ReachResult& a, const ReachResult& b) {
  CHECK(a.exact == b.exact);
  CHECK(a.coverage == b.coverage);
  REQUIRE(a.receptive_field.size() == b.receptive_field.size());
  for (std::size_t k = 0; k < a.receptive_field.size(); ++k) {
    CHECK(a.receptive_field[k].min == b.receptive_field[k].min);
    CHECK(a.receptive_field[k].mean == b.receptive_field[k].mean);
    CHECK(a.receptive_field[k].max == b.receptive_field[k].max);
  }
  CHECK(a.pairs_at_distance == b.pairs_at_distance);
  CHECK(a.diameter == b.diameter);
  CHECK(a.full_coverage_hops == b.full_coverage_hops);
  CHECK(a.unreachable_pairs == b.unreachable_pairs);
  CHECK(a.unreachable_fraction == b.unreachable_fraction);
}

struct Pattern {
  const char* name;
  Csr g;
};

std::vector<Pattern> reach_cases() {
  std::vector<Pattern> c;
  c.push_back({"window:1, n=300 (diameter 299)", graphs::build_pattern("window:1", 300, 0)});
  c.push_back({"recipe, n=1000", graphs::build_pattern(graphs::kDiffuserRecipe, 1000, 3)});
  c.push_back({"random k=3, 3 components, isolated tokens, n=300", random_graph(300, 3, 3, true, 3, 5)});
  c.push_back({"random k=1, n=130 (unreachable pairs)", random_graph(130, 1, 2)});
  c.push_back({"two tokens, one edge", random_graph(2, 1, 5)});
  return c;
}

}  // namespace

TEST_CASE("frontier_pull and frontier_advance match brute force on the CPU", "[cpu][analysis]") {
  for (const std::int64_t n : {1, 70, 300}) {
    const Csr g = awkward_graph(std::max<std::int64_t>(n, 8), static_cast<std::uint64_t>(n));
    const std::int64_t nodes = g.num_nodes();
    for (const std::int64_t words : {1, 3, 37}) {
      INFO("n = " << nodes << ", words = " << words);
      const Words f = random_words(nodes * words, static_cast<std::uint64_t>(words), 8);
      CHECK(pull_on(Device::cpu, g, f, words) == brute_pull(g, f, words));
      const Words next = random_words(nodes * words, 11, 1);
      const Words visited = random_words(nodes * words, 12, 2);
      const Advanced a = advance_on(Device::cpu, next, visited, words);
      for (std::int64_t i = 0; i < nodes; ++i) {
        std::int64_t count = 0;
        for (std::int64_t w = i * words; w < (i + 1) * words; ++w) {
          const auto x = static_cast<std::size_t>(w);
          const std::uint64_t fresh = next[x] & ~visited[x];
          CHECK(a.frontier[x] == fresh);
          CHECK(a.visited[x] == (visited[x] | next[x]));
          count += std::popcount(fresh);
        }
        CHECK(a.counts[static_cast<std::size_t>(i)] == count);
      }
    }
  }
}

TEST_CASE("bitset primitives check their arguments", "[cpu][analysis]") {
  const Csr g = random_graph(10, 2, 1);
  Buffer<std::uint64_t> a(20), b(20), c(20);
  Buffer<std::int64_t> counts(10);
  a.zero(), b.zero(), c.zero();
  CHECK_THROWS_AS(ops::frontier_pull(g.view(), a.span(), b.span(), 3), Error);  // 20 != 10 x 3
  CHECK_THROWS_AS(ops::frontier_pull(g.view(), a.span(), b.span(), 0), Error);
  CHECK_THROWS_AS(ops::frontier_pull(g.view(), a.span(), a.span(), 2), Error);  // aliasing
  CHECK_THROWS_AS(ops::frontier_advance(a.span(), b.span(), b.span(), 2, counts.span()), Error);
  CHECK_THROWS_AS(ops::frontier_advance(a.span(), b.span(), c.span(), 3, counts.span()), Error);
  CHECK_NOTHROW(ops::frontier_advance(a.span(), b.span(), c.span(), 2, counts.span()));
}

TEST_CASE("reach through the bitset primitives equals the frontier blocks", "[cpu][analysis]") {
  for (const auto& c : reach_cases())
    for (const int K : {1, 3, 8})
      for (const std::int64_t chunk : {0, 64, 192}) {
        INFO(c.name << ", K = " << K << ", chunk = " << chunk);
        ReachOptions opt;
        opt.max_hops = K;
        opt.sample = 0;
        const ReachResult cpu = diffusion::reach(c.g, opt);
        opt.bitsets = true;
        opt.chunk_sources = chunk;
        check_same(diffusion::reach(c.g, opt), cpu);
      }
}

TEST_CASE("GPU bitset primitives equal the CPU's", "[cuda][analysis]") {
  if (!test::cuda_or_skip()) return;
  for (const std::int64_t n : {8, 70, 300, 1000}) {
    const Csr g = awkward_graph(n, static_cast<std::uint64_t>(n) + 1);
    for (const std::int64_t words : {1, 5, 37, 64}) {
      INFO("n = " << n << ", words = " << words);
      const Words f = random_words(n * words, static_cast<std::uint64_t>(words) + 7, 16);
      CHECK(pull_on(Device::cuda, g, f, words) == pull_on(Device::cpu, g, f, words));
      const Words next = random_words(n * words, 21, 1), visited = random_words(n * words, 22, 2);
      const Advanced gpu = advance_on(Device::cuda, next, visited, words);
      const Advanced cpu = advance_on(Device::cpu, next, visited, words);
      CHECK(gpu.visited == cpu.visited);
      CHECK(gpu.frontier == cpu.frontier);
      CHECK(gpu.counts == cpu.counts);
    }
  }
}

TEST_CASE("reach on the GPU equals the CPU", "[cuda][analysis]") {
  if (!test::cuda_or_skip()) return;
  for (const auto& c : reach_cases())
    for (const int K : {1, 4, 8}) {
      INFO(c.name << ", K = " << K);
      ReachOptions opt;
      opt.max_hops = K;
      opt.sample = 0;
      const ReachResult cpu = diffusion::reach(c.g, opt);
      opt.device = Device::cuda;
      check_same(diffusion::reach(c.g, opt), cpu);
      opt.chunk_sources = 100;  // several chunks (rounded to 128 sources)
      check_same(diffusion::reach(c.g, opt), cpu);
      // A graph already on the GPU is analysed there.
      ReachOptions on_cpu_opts;
      on_cpu_opts.max_hops = K;
      on_cpu_opts.sample = 0;
      check_same(diffusion::reach(c.g.to(Device::cuda), on_cpu_opts), cpu);
    }
  ReachOptions opt;
  opt.device = Device::cuda;
  CHECK_THROWS_AS(diffusion::reach(random_graph(1, 0, 1), opt), Error);  // one token
  opt.sample = 10;
  CHECK_THROWS_AS(diffusion::reach(random_graph(100, 2, 1), opt), UsageError);  // sampled: CPU only
}

TEST_CASE("reach on the GPU without a GPU is a clear error", "[cpu][analysis]") {
  if (cuda_available()) return;
  ReachOptions opt;
  opt.device = Device::cuda;
  opt.sample = 0;
  CHECK_THROWS_AS(diffusion::reach(random_graph(10, 2, 1), opt), Error);
}
