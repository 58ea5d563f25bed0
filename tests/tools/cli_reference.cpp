#include <cmath>
#include <fstream>
#include <random>

#include <diffuser/engine/npy.hpp>

#include "tools/cli_reference.hpp"

namespace diffuser::test::cli {

Problem random_problem(std::int64_t n, std::int64_t h, std::int64_t d, std::uint64_t seed, int degree) {
  Problem p;
  p.n = n;
  p.h = h;
  p.d = d;
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto* t : {&p.q, &p.k, &p.v}) {
    t->resize(static_cast<std::size_t>(n * h * d));
    for (float& x : *t) x = normal(gen);
  }
  p.adj.assign(static_cast<std::size_t>(n * n), 0);
  std::uniform_int_distribution<std::int64_t> node(0, n - 1);
  for (std::int64_t i = 0; i < n; ++i) {
    if (i == 2) continue;  // an empty row
    if (i == 0) {
      for (std::int64_t j = 0; j < n; ++j) p.adj[static_cast<std::size_t>(j)] = 1;  // a hub row
      continue;
    }
    for (int e = 0; e < degree; ++e) p.adj[static_cast<std::size_t>(i * n + node(gen))] = 1;
    if (i % 2 == 0) p.adj[static_cast<std::size_t>(i * n + i)] = 1;
  }
  return p;
}

void write_problem(const Problem& p, const std::filesystem::path& dir) {
  npy::save(dir / "q.npy", p.q.data(), {p.n, p.h, p.d});
  npy::save(dir / "k.npy", p.k.data(), {p.n, p.h, p.d});
  npy::save(dir / "v.npy", p.v.data(), {p.n, p.h, p.d});
  if (!p.mask.empty()) npy::save(dir / "m.npy", p.mask.data(), {p.n});
  std::ofstream g(dir / "g.txt");
  g << "# src dst: token dst attends to token src\n";
  // Rows in reverse and sources descending, so the reader has to sort.
  for (std::int64_t i = p.n - 1; i >= 0; --i)
    for (std::int64_t j = p.n - 1; j >= 0; --j)
      if (p.adj[static_cast<std::size_t>(i * p.n + j)]) g << j << ' ' << i << '\n';
}

std::vector<double> ref_attention(const Problem& p) {
  const std::int64_t n = p.n, h = p.h, d = p.d;
  std::vector<double> a(static_cast<std::size_t>(h * n * n), 0.0);
  auto real = [&](std::int64_t i) { return p.mask.empty() || p.mask[static_cast<std::size_t>(i)] != 0; };
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  for (std::int64_t hh = 0; hh < h; ++hh)
    for (std::int64_t i = 0; i < n; ++i) {
      std::vector<double> s(static_cast<std::size_t>(n), -INFINITY);
      double mx = -INFINITY;
      for (std::int64_t j = 0; j < n; ++j) {
        if (!p.adj[static_cast<std::size_t>(i * n + j)] || !real(i) || !real(j)) continue;
        double dot = 0;
        for (std::int64_t t = 0; t < d; ++t)
          dot += static_cast<double>(p.q[static_cast<std::size_t>((i * h + hh) * d + t)]) *
                 p.k[static_cast<std::size_t>((j * h + hh) * d + t)];
        s[static_cast<std::size_t>(j)] = dot * scale;
        mx = std::max(mx, dot * scale);
      }
      if (mx == -INFINITY) continue;  // no unmasked edge: a zero row
      double sum = 0;
      for (double x : s)
        if (x != -INFINITY) sum += std::exp(x - mx);
      for (std::int64_t j = 0; j < n; ++j)
        if (s[static_cast<std::size_t>(j)] != -INFINITY)
          a[static_cast<std::size_t>((hh * n + i) * n + j)] =
              std::exp(s[static_cast<std::size_t>(j)] - mx) / sum;
    }
  return a;
}

namespace {

// y = A x per head, x and y (n, h, d).
std::vector<double> apply(const Problem& p, const std::vector<double>& a, const std::vector<double>& x) {
  const std::int64_t n = p.n, h = p.h, d = p.d;
  std::vector<double> y(x.size(), 0.0);
  for (std::int64_t hh = 0; hh < h; ++hh)
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        const double w = a[static_cast<std::size_t>((hh * n + i) * n + j)];
        if (w == 0.0) continue;
        for (std::int64_t t = 0; t < d; ++t)
          y[static_cast<std::size_t>((i * h + hh) * d + t)] +=
              w * x[static_cast<std::size_t>((j * h + hh) * d + t)];
      }
  return y;
}

}  // namespace

std::vector<double> ref_ppr(const Problem& p, const std::vector<double>& a, int hops, double alpha) {
  const std::vector<double> v(p.v.begin(), p.v.end());
  if (hops == 0) return apply(p, a, v);
  std::vector<double> z = v;
  for (int k = 0; k < hops; ++k) {
    z = apply(p, a, z);
    for (std::size_t e = 0; e < z.size(); ++e) z[e] = (1.0 - alpha) * z[e] + alpha * v[e];
  }
  return z;
}

std::vector<double> ref_theta(const Problem& p, const std::vector<double>& a,
                              const std::vector<double>& theta) {
  std::vector<double> power(p.v.begin(), p.v.end());
  std::vector<double> z(power.size(), 0.0);
  for (std::size_t k = 0; k < theta.size(); ++k) {
    if (k > 0) power = apply(p, a, power);
    for (std::size_t e = 0; e < z.size(); ++e) z[e] += theta[k] * power[e];
  }
  return z;
}

std::vector<double> heat_theta(int hops, double t) {
  std::vector<double> theta;
  double term = std::exp(-t), used = 0;
  for (int k = 0; k < hops; ++k) {
    theta.push_back(term);
    used += term;
    term *= t / (k + 1);
  }
  theta.push_back(1.0 - used);
  return theta;
}

double rel_error(const std::vector<float>& x, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double diff = static_cast<double>(x[i]) - ref[i];
    num += diff * diff;
    den += ref[i] * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace diffuser::test::cli
