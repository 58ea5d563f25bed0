#include <algorithm>
#include <cmath>
#include <limits>

#include <diffuser/engine/random.hpp>

#include "reference.hpp"

namespace diffuser::test {

Tensor3<float> random_tensor(std::int64_t n, std::int64_t h, std::int64_t d, std::uint64_t seed,
                             float scale) {
  Tensor3<float> t(n, h, d);
  for (std::int64_t i = 0; i < n * h * d; ++i)
    t.buffer()[i] = scale * static_cast<float>(rng::normal(seed, 77, static_cast<std::uint64_t>(i)));
  return t;
}

Csr random_graph(std::int64_t n, std::int64_t avg_degree, std::uint64_t seed, std::vector<std::int32_t> hubs,
                 std::vector<std::int32_t> empty_rows) {
  EdgeList el;
  el.n = n;
  for (std::int64_t i = 0; i < n; ++i) {
    if (std::find(empty_rows.begin(), empty_rows.end(), i) != empty_rows.end()) continue;
    const bool hub = std::find(hubs.begin(), hubs.end(), i) != hubs.end();
    if (hub) {
      for (std::int64_t j = 0; j < n; ++j) el.add(static_cast<std::int32_t>(j), static_cast<std::int32_t>(i));
      continue;
    }
    for (std::int64_t t = 0; t < avg_degree; ++t)
      el.add(static_cast<std::int32_t>(rng::below(seed, 5, static_cast<std::uint64_t>(i * avg_degree + t),
                                                  static_cast<std::uint32_t>(n))),
             static_cast<std::int32_t>(i));
  }
  return Csr::from_edges(el);
}

std::vector<double> ref_scores(const Csr& g, const Tensor3<float>& q, const Tensor3<float>& k, double scale) {
  const std::int64_t H = q.h(), D = q.d();
  std::vector<double> s(static_cast<std::size_t>(g.num_edges() * H));
  for (std::int64_t i = 0; i < g.num_nodes(); ++i)
    for (auto e = g.row_ptr()[i]; e < g.row_ptr()[i + 1]; ++e) {
      const std::int64_t j = g.col()[e];
      for (std::int64_t h = 0; h < H; ++h) {
        double acc = 0;
        for (std::int64_t x = 0; x < D; ++x)
          acc += double(q.buffer()[(i * H + h) * D + x]) * double(k.buffer()[(j * H + h) * D + x]);
        s[static_cast<std::size_t>(e * H + h)] = acc * scale;
      }
    }
  return s;
}

std::vector<double> ref_dense_attention(const Csr& g, const Tensor3<float>& q, const Tensor3<float>& k,
                                        const std::vector<std::uint8_t>& mask, double scale) {
  const std::int64_t n = g.num_nodes(), H = q.h(), D = q.d();
  std::vector<double> a(static_cast<std::size_t>(H * n * n), 0.0);
  auto real = [&](std::int64_t t) { return mask.empty() || mask[static_cast<std::size_t>(t)] != 0; };
  for (std::int64_t h = 0; h < H; ++h)
    for (std::int64_t i = 0; i < n; ++i) {
      std::vector<double> s(static_cast<std::size_t>(n), -std::numeric_limits<double>::infinity());
      double m = -std::numeric_limits<double>::infinity();
      for (std::int64_t j = 0; j < n; ++j) {
        if (!g.has_edge(static_cast<std::int32_t>(j), static_cast<std::int32_t>(i)) || !real(i) || !real(j))
          continue;
        double acc = 0;
        for (std::int64_t x = 0; x < D; ++x)
          acc += double(q.buffer()[(i * H + h) * D + x]) * double(k.buffer()[(j * H + h) * D + x]);
        s[static_cast<std::size_t>(j)] = acc * scale;
        m = std::max(m, acc * scale);
      }
      if (m == -std::numeric_limits<double>::infinity()) continue;  // no unmasked edge: zero row
      double sum = 0;
      for (std::int64_t j = 0; j < n; ++j) sum += std::exp(s[static_cast<std::size_t>(j)] - m);
      for (std::int64_t j = 0; j < n; ++j)
        a[static_cast<std::size_t>((h * n + i) * n + j)] = std::exp(s[static_cast<std::size_t>(j)] - m) / sum;
    }
  return a;
}

std::vector<double> edge_values(const Csr& g, const std::vector<double>& dense, std::int64_t heads) {
  const std::int64_t n = g.num_nodes();
  std::vector<double> w(static_cast<std::size_t>(g.num_edges() * heads));
  for (std::int64_t i = 0; i < n; ++i)
    for (auto e = g.row_ptr()[i]; e < g.row_ptr()[i + 1]; ++e)
      for (std::int64_t h = 0; h < heads; ++h)
        w[static_cast<std::size_t>(e * heads + h)] =
            dense[static_cast<std::size_t>((h * n + i) * n + g.col()[e])];
  return w;
}

std::vector<double> ref_dense_diffusion(const std::vector<double>& dense, std::int64_t n, std::int64_t heads,
                                        const Tensor3<float>& v, const std::vector<double>& theta) {
  const std::int64_t D = v.d();
  std::vector<double> z(static_cast<std::size_t>(n * heads * D), 0.0);
  for (std::int64_t h = 0; h < heads; ++h) {
    const double* a = dense.data() + h * n * n;
    std::vector<double> power(static_cast<std::size_t>(n * n), 0.0);  // A^0 = I
    for (std::int64_t i = 0; i < n; ++i) power[static_cast<std::size_t>(i * n + i)] = 1.0;
    for (std::size_t k = 0; k < theta.size(); ++k) {
      if (k > 0) {  // power <- A * power
        std::vector<double> next(static_cast<std::size_t>(n * n), 0.0);
        for (std::int64_t i = 0; i < n; ++i)
          for (std::int64_t m = 0; m < n; ++m) {
            const double aim = a[i * n + m];
            if (aim == 0.0) continue;
            for (std::int64_t j = 0; j < n; ++j)
              next[static_cast<std::size_t>(i * n + j)] += aim * power[static_cast<std::size_t>(m * n + j)];
          }
        power.swap(next);
      }
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
          const double p = power[static_cast<std::size_t>(i * n + j)];
          if (p == 0.0) continue;
          for (std::int64_t x = 0; x < D; ++x)
            z[static_cast<std::size_t>((i * heads + h) * D + x)] +=
                theta[k] * p * double(v.buffer()[(j * heads + h) * D + x]);
        }
    }
  }
  return z;
}

std::vector<double> ref_gather(const Csr& g, const std::vector<double>& w, const Tensor3<float>& x) {
  const std::int64_t H = x.h(), D = x.d();
  std::vector<double> out(static_cast<std::size_t>(g.num_nodes() * H * D), 0.0);
  for (std::int64_t i = 0; i < g.num_nodes(); ++i)
    for (auto e = g.row_ptr()[i]; e < g.row_ptr()[i + 1]; ++e) {
      const std::int64_t j = g.col()[e];
      for (std::int64_t h = 0; h < H; ++h)
        for (std::int64_t t = 0; t < D; ++t)
          out[static_cast<std::size_t>((i * H + h) * D + t)] +=
              w[static_cast<std::size_t>(e * H + h)] * double(x.buffer()[(j * H + h) * D + t]);
    }
  return out;
}

double rel_error(const std::vector<double>& x, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    num += (x[i] - ref[i]) * (x[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  if (std::isnan(num)) return std::numeric_limits<double>::infinity();
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

std::vector<double> to_double(const float* x, std::int64_t count) {
  return {x, x + count};
}

double rel_error(const float* x, const std::vector<double>& ref) {
  return rel_error(to_double(x, static_cast<std::int64_t>(ref.size())), ref);
}

double rel_error(const std::vector<float>& x, const std::vector<float>& ref) {
  return rel_error(to_double(x.data(), static_cast<std::int64_t>(x.size())),
                   to_double(ref.data(), static_cast<std::int64_t>(ref.size())));
}

}  // namespace diffuser::test
