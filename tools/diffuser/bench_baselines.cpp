#include <algorithm>
#include <cmath>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <diffuser/engine/sys.hpp>
#include <diffuser/engine/threads.hpp>

#include "bench_baselines.hpp"

namespace diffuser::bench {

double triad_gbps(std::int64_t n, int reps) {
  Buffer<float> a(n), b(n), c(n);
  const auto range = tbb::blocked_range<std::int64_t>(0, n, 1 << 16);
  tbb::parallel_for(range, [&](const auto& r) {  // first touch by the threads that use the pages
    for (auto i = r.begin(); i < r.end(); ++i) {
      a[i] = 0.0f;
      b[i] = 1.0f;
      c[i] = 2.0f;
    }
  });
  std::vector<double> ms;
  for (int rep = 0; rep < reps; ++rep) {
    const float s = 0.5f + static_cast<float>(rep);
    Stopwatch sw;
    tbb::parallel_for(range, [&](const auto& r) {
      float* __restrict pa = a.data();
      const float* __restrict pb = b.data();
      const float* __restrict pc = c.data();
      for (auto i = r.begin(); i < r.end(); ++i) pa[i] = pb[i] + s * pc[i];
    });
    ms.push_back(sw.ms());
  }
  volatile float sink = a[n / 2];
  (void)sink;
  return 3.0 * 4.0 * static_cast<double>(n) / (median(ms) * 1e6);
}

namespace {

// 16 independent chains of 8-wide FMAs: enough to cover FMA latency on any current x86 core.
typedef float Vec8 __attribute__((vector_size(32)));

float fma_chains(std::int64_t iters, float seed) {
  Vec8 acc[16];
  for (int j = 0; j < 16; ++j) acc[j] = Vec8{} + seed * static_cast<float>(j + 1);
  const Vec8 m = Vec8{} + 0.999999f, add = Vec8{} + 1e-7f;
  for (std::int64_t it = 0; it < iters; ++it) {
    for (int j = 0; j < 16; ++j) acc[j] = acc[j] * m + add;
#if defined(__AVX__)
    // Keeps the chains from being folded without forcing them to memory (needs 256-bit registers).
    asm volatile("" : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3]));
#else
    asm volatile("" : : "r"(acc) : "memory");
#endif
  }
  Vec8 s = acc[0];
  for (int j = 1; j < 16; ++j) s += acc[j];
  return s[0] + s[7];
}

}  // namespace

double fma_peak_gflops() {
  const int threads = std::max(1, active_threads());
  const std::int64_t iters = 2'000'000;
  std::vector<double> rates;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<float> sink(static_cast<std::size_t>(threads));
    Stopwatch sw;
    tbb::parallel_for(0, threads,
                      [&](int t) { sink[static_cast<std::size_t>(t)] = fma_chains(iters, 1.0f + float(t)); });
    const double s = sw.seconds();
    const double flops = 2.0 * 8 * 16 * static_cast<double>(iters) * threads;
    rates.push_back(flops / s / 1e9);
    volatile float keep = sink[0];
    (void)keep;
  }
  return *std::max_element(rates.begin(), rates.end());
}

void naive_forward(const Csr& g, const Tensor3<float>& q, const Tensor3<float>& k, const Tensor3<float>& v,
                   int hops, float alpha, Tensor3<float>& z) {
  const std::int64_t n = g.num_nodes(), H = q.h(), D = q.d(), E = g.num_edges();
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const float* Q = q.buffer().data();
  const float* Kp = k.buffer().data();
  const float* V = v.buffer().data();
  std::vector<float> w(static_cast<std::size_t>(E * H));
  for (std::int64_t i = 0; i < n; ++i)
    for (auto e = g.row_ptr()[i]; e < g.row_ptr()[i + 1]; ++e) {
      const std::int64_t j = g.col()[e];
      for (std::int64_t h = 0; h < H; ++h) {
        float s = 0;
        for (std::int64_t t = 0; t < D; ++t) s += Q[(i * H + h) * D + t] * Kp[(j * H + h) * D + t];
        w[static_cast<std::size_t>(e * H + h)] = s * scale;
      }
    }
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t h = 0; h < H; ++h) {
      float m = -INFINITY, sum = 0;
      for (auto e = g.row_ptr()[i]; e < g.row_ptr()[i + 1]; ++e)
        m = std::max(m, w[static_cast<std::size_t>(e * H + h)]);
      for (auto e = g.row_ptr()[i]; e < g.row_ptr()[i + 1]; ++e) {
        float& x = w[static_cast<std::size_t>(e * H + h)];
        x = std::exp(x - m);
        sum += x;
      }
      for (auto e = g.row_ptr()[i]; e < g.row_ptr()[i + 1]; ++e)
        w[static_cast<std::size_t>(e * H + h)] /= sum;
    }
  const std::int64_t total = n * H * D;
  std::vector<float> cur(V, V + total), next(static_cast<std::size_t>(total));
  for (int hop = 0; hop < hops; ++hop) {
    std::fill(next.begin(), next.end(), 0.0f);
    for (std::int64_t i = 0; i < n; ++i)
      for (auto e = g.row_ptr()[i]; e < g.row_ptr()[i + 1]; ++e) {
        const std::int64_t j = g.col()[e];
        for (std::int64_t h = 0; h < H; ++h)
          for (std::int64_t t = 0; t < D; ++t)
            next[static_cast<std::size_t>((i * H + h) * D + t)] +=
                w[static_cast<std::size_t>(e * H + h)] * cur[static_cast<std::size_t>((j * H + h) * D + t)];
      }
    for (std::int64_t t = 0; t < total; ++t)
      cur[static_cast<std::size_t>(t)] = (1 - alpha) * next[static_cast<std::size_t>(t)] + alpha * V[t];
  }
  std::copy(cur.begin(), cur.end(), z.buffer().data());
}

}  // namespace diffuser::bench
