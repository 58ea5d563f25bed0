// The CPU baselines (cpu_baselines.hpp) at one CPU level.
#include "../cpu/isa_begin.hpp"  // first: the shared headers, then the level's target

namespace diffuser::cpu {
template <CpuIsa>
struct BaselinesAt;
}  // namespace diffuser::cpu

#include "cpu_loops.inc"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

namespace {

// As wide as the level's registers: 16 floats at avx512, 8 at avx2, 4 at the generic level (SSE2,
// which has no FMA: there the loop counts a multiply and an add).
#if DIFFUSER_ISA_LEVEL >= 4
constexpr int kFmaLanes = 16;
#define DIFFUSER_FMA_REG "+v"
#elif DIFFUSER_ISA_LEVEL >= 3
constexpr int kFmaLanes = 8;
#define DIFFUSER_FMA_REG "+x"
#else
constexpr int kFmaLanes = 4;
#define DIFFUSER_FMA_REG "+x"
#endif
typedef float FmaVec __attribute__((vector_size(kFmaLanes * 4)));

// 12 independent chains of FMAs in registers (named, not an array, so that none lives in memory):
// enough to cover FMA latency on current x86 and Arm cores. The empty asm keeps the compiler from
// folding the chains without forcing them to memory.
float fma_chains(std::int64_t iters, float seed) {
  const FmaVec m = FmaVec{} + 0.999999f, add = FmaVec{} + 1e-7f;
  FmaVec a0 = FmaVec{} + seed, a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3, a4 = a0 + 4, a5 = a0 + 5;
  FmaVec a6 = a0 + 6, a7 = a0 + 7, a8 = a0 + 8, a9 = a0 + 9, a10 = a0 + 10, a11 = a0 + 11;
  for (std::int64_t it = 0; it < iters; ++it) {
    a0 = a0 * m + add;
    a1 = a1 * m + add;
    a2 = a2 * m + add;
    a3 = a3 * m + add;
    a4 = a4 * m + add;
    a5 = a5 * m + add;
    a6 = a6 * m + add;
    a7 = a7 * m + add;
    a8 = a8 * m + add;
    a9 = a9 * m + add;
    a10 = a10 * m + add;
    a11 = a11 * m + add;
    asm volatile(""
                 : DIFFUSER_FMA_REG(a0), DIFFUSER_FMA_REG(a1), DIFFUSER_FMA_REG(a2), DIFFUSER_FMA_REG(a3),
                   DIFFUSER_FMA_REG(a4), DIFFUSER_FMA_REG(a5), DIFFUSER_FMA_REG(a6), DIFFUSER_FMA_REG(a7),
                   DIFFUSER_FMA_REG(a8), DIFFUSER_FMA_REG(a9), DIFFUSER_FMA_REG(a10), DIFFUSER_FMA_REG(a11));
  }
  const FmaVec s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11));
  return s[0] + s[kFmaLanes - 1];
}
#undef DIFFUSER_FMA_REG

// Calls f(i) for i in [0, n), in parallel or not.
template <class F>
void rows(std::int64_t n, bool parallel, F&& f) {
  if (!parallel) {
    for (std::int64_t i = 0; i < n; ++i) f(i);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n), [&](const tbb::blocked_range<std::int64_t>& r) {
    for (auto i = r.begin(); i < r.end(); ++i) f(i);
  });
}

}  // namespace

double Baselines::triad_gbps(std::int64_t n, int reps) {
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

double Baselines::fma_peak_gflops(int threads) {
  const std::int64_t iters = 2'000'000;
  std::vector<double> rates;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<float> sink(static_cast<std::size_t>(threads));
    Stopwatch sw;
    tbb::parallel_for(0, threads,
                      [&](int t) { sink[static_cast<std::size_t>(t)] = fma_chains(iters, 1.0f + float(t)); });
    const double s = sw.seconds();
    const double flops = 2.0 * kFmaLanes * 12 * static_cast<double>(iters) * threads;
    rates.push_back(flops / s / 1e9);
    volatile float keep = sink[0];
    (void)keep;
  }
  return *std::max_element(rates.begin(), rates.end());
}

void Baselines::naive_forward(const Csr& g, const Tensor3<float>& q, const Tensor3<float>& k,
                              const Tensor3<float>& v, int hops, float alpha, Tensor3<float>& z,
                              bool parallel) {
  const std::int64_t n = g.num_nodes(), H = q.h(), D = q.d(), E = g.num_edges();
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const float* Q = q.buffer().data();
  const float* Kp = k.buffer().data();
  const float* V = v.buffer().data();
  const std::int64_t* rp = g.row_ptr().data();
  const std::int32_t* col = g.col().data();
  std::vector<float> w(static_cast<std::size_t>(E * H));
  rows(n, parallel, [&](std::int64_t i) {
    for (auto e = rp[i]; e < rp[i + 1]; ++e) {
      const std::int64_t j = col[e];
      for (std::int64_t h = 0; h < H; ++h) {
        float s = 0;
        for (std::int64_t t = 0; t < D; ++t) s += Q[(i * H + h) * D + t] * Kp[(j * H + h) * D + t];
        w[static_cast<std::size_t>(e * H + h)] = s * scale;
      }
    }
  });
  rows(n, parallel, [&](std::int64_t i) {
    for (std::int64_t h = 0; h < H; ++h) {
      float m = -INFINITY, sum = 0;
      for (auto e = rp[i]; e < rp[i + 1]; ++e) m = std::max(m, w[static_cast<std::size_t>(e * H + h)]);
      for (auto e = rp[i]; e < rp[i + 1]; ++e) {
        float& x = w[static_cast<std::size_t>(e * H + h)];
        x = std::exp(x - m);
        sum += x;
      }
      for (auto e = rp[i]; e < rp[i + 1]; ++e) w[static_cast<std::size_t>(e * H + h)] /= sum;
    }
  });
  const std::int64_t total = n * H * D;
  std::vector<float> cur(V, V + total), next(static_cast<std::size_t>(total));
  for (int hop = 0; hop < hops; ++hop) {
    rows(n, parallel, [&](std::int64_t i) {
      float* out = next.data() + i * H * D;
      std::fill(out, out + H * D, 0.0f);
      for (auto e = rp[i]; e < rp[i + 1]; ++e) {
        const std::int64_t j = col[e];
        for (std::int64_t h = 0; h < H; ++h)
          for (std::int64_t t = 0; t < D; ++t)
            out[h * D + t] +=
                w[static_cast<std::size_t>(e * H + h)] * cur[static_cast<std::size_t>((j * H + h) * D + t)];
      }
    });
    rows(n, parallel, [&](std::int64_t i) {
      for (std::int64_t t = i * H * D; t < (i + 1) * H * D; ++t)
        cur[static_cast<std::size_t>(t)] = (1 - alpha) * next[static_cast<std::size_t>(t)] + alpha * V[t];
    });
  }
  std::copy(cur.begin(), cur.end(), z.buffer().data());
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "../cpu/isa_end.hpp"
