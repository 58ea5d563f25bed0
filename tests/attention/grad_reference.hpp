// Plain-loop references for the gradient tests, templated on the scalar type: in double they are
// checked against central finite differences (relative error <= 1e-6), and the float32 engine is
// checked against them. Tensors are contiguous std::vectors: nodes (n, H, D), edges (E, H) in CSR
// order. Dropout masks use the engine's keep function (the mask's definition); everything else is
// written out here. The encoder layer's reference is in layer_reference.hpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/ops_backward.hpp>

namespace diffuser::test::grad {

template <class T>
using Vec = std::vector<T>;

struct Graph {
  std::int64_t n = 0, E = 0;
  std::vector<std::int64_t> row_ptr;
  std::vector<std::int32_t> col, dst;
  explicit Graph(const Csr& g) : n(g.num_nodes()), E(g.num_edges()) {
    row_ptr.assign(g.row_ptr().begin(), g.row_ptr().end());
    col.assign(g.col().begin(), g.col().end());
    dst.resize(static_cast<std::size_t>(E));
    for (std::int64_t i = 0; i < n; ++i)
      for (auto e = row_ptr[i]; e < row_ptr[i + 1]; ++e)
        dst[static_cast<std::size_t>(e)] = static_cast<std::int32_t>(i);
  }
};

inline std::size_t at(std::int64_t i) {
  return static_cast<std::size_t>(i);
}

// Applies inverted dropout with the engine's mask to a flat array (logical index = position).
template <class T>
void drop(Vec<T>& x, double p, std::uint64_t seed, std::uint64_t stream) {
  if (p <= 0.0) return;
  const auto thr = ops::dropout_threshold(static_cast<float>(p));
  const T scale = T(1) / (T(1) - T(static_cast<float>(p)));
  for (std::size_t f = 0; f < x.size(); ++f)
    x[f] = ops::dropout_keep(seed, stream, f, thr) ? x[f] * scale : T(0);
}

// ---- graph primitives ----

template <class T>
Vec<T> scores(const Graph& g, const Vec<T>& q, const Vec<T>& k, std::int64_t H, std::int64_t D, T scale) {
  Vec<T> s(at(g.E * H));
  for (std::int64_t e = 0; e < g.E; ++e)
    for (std::int64_t h = 0; h < H; ++h) {
      T acc = 0;
      for (std::int64_t t = 0; t < D; ++t)
        acc += q[at((g.dst[at(e)] * H + h) * D + t)] * k[at((g.col[at(e)] * H + h) * D + t)];
      s[at(e * H + h)] = scale * acc;
    }
  return s;
}

// Masked softmax per destination row (mask empty = all real); rows with no live edge are 0.
template <class T>
Vec<T> softmax(const Graph& g, const Vec<T>& s, std::int64_t H, const std::vector<std::uint8_t>& mask) {
  Vec<T> w(s.size(), T(0));
  auto live = [&](std::int64_t e) {
    return mask.empty() || (mask[at(g.dst[at(e)])] && mask[at(g.col[at(e)])]);
  };
  for (std::int64_t i = 0; i < g.n; ++i)
    for (std::int64_t h = 0; h < H; ++h) {
      T m = -1e300;
      bool any = false;
      for (auto e = g.row_ptr[at(i)]; e < g.row_ptr[at(i + 1)]; ++e)
        if (live(e)) {
          m = std::max(m, s[at(e * H + h)]);
          any = true;
        }
      if (!any) continue;
      T sum = 0;
      for (auto e = g.row_ptr[at(i)]; e < g.row_ptr[at(i + 1)]; ++e)
        if (live(e)) sum += std::exp(s[at(e * H + h)] - m);
      for (auto e = g.row_ptr[at(i)]; e < g.row_ptr[at(i + 1)]; ++e)
        if (live(e)) w[at(e * H + h)] = std::exp(s[at(e * H + h)] - m) / sum;
    }
  return w;
}

template <class T>
Vec<T> softmax_backward(const Graph& g, const Vec<T>& w, const Vec<T>& dw, std::int64_t H) {
  Vec<T> ds(w.size());
  for (std::int64_t i = 0; i < g.n; ++i)
    for (std::int64_t h = 0; h < H; ++h) {
      T c = 0;
      for (auto e = g.row_ptr[at(i)]; e < g.row_ptr[at(i + 1)]; ++e)
        c += w[at(e * H + h)] * dw[at(e * H + h)];
      for (auto e = g.row_ptr[at(i)]; e < g.row_ptr[at(i + 1)]; ++e)
        ds[at(e * H + h)] = w[at(e * H + h)] * (dw[at(e * H + h)] - c);
    }
  return ds;
}

// out_i = a * sum_{e = j -> i} w_e x_j
template <class T>
Vec<T> gather(const Graph& g, const Vec<T>& w, const Vec<T>& x, std::int64_t H, std::int64_t D, T a = 1) {
  Vec<T> out(at(g.n * H * D), T(0));
  for (std::int64_t e = 0; e < g.E; ++e)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t t = 0; t < D; ++t)
        out[at((g.dst[at(e)] * H + h) * D + t)] +=
            a * w[at(e * H + h)] * x[at((g.col[at(e)] * H + h) * D + t)];
  return out;
}

// out_j = a * sum_{e = j -> i} w_e y_i
template <class T>
Vec<T> scatter(const Graph& g, const Vec<T>& w, const Vec<T>& y, std::int64_t H, std::int64_t D, T a = 1) {
  Vec<T> out(at(g.n * H * D), T(0));
  for (std::int64_t e = 0; e < g.E; ++e)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t t = 0; t < D; ++t)
        out[at((g.col[at(e)] * H + h) * D + t)] +=
            a * w[at(e * H + h)] * y[at((g.dst[at(e)] * H + h) * D + t)];
  return out;
}

// dw_e = a * <p_i, x_j>
template <class T>
Vec<T> edge_dot(const Graph& g, const Vec<T>& p, const Vec<T>& x, std::int64_t H, std::int64_t D, T a = 1) {
  Vec<T> out(at(g.E * H), T(0));
  for (std::int64_t e = 0; e < g.E; ++e)
    for (std::int64_t h = 0; h < H; ++h) {
      T acc = 0;
      for (std::int64_t t = 0; t < D; ++t)
        acc += p[at((g.dst[at(e)] * H + h) * D + t)] * x[at((g.col[at(e)] * H + h) * D + t)];
      out[at(e * H + h)] = a * acc;
    }
  return out;
}

// ---- diffusion ----

struct Diffusion {
  diffusion::HopPlan plan;
  diffusion::DiffusionDropout drop;  // p_hops is ignored for plain attention, as in the engine
  bool plain = false;
  double scale = 0;  // <= 0: 1 / sqrt(D)
  Diffusion(const diffusion::Coefficients& c, diffusion::DiffusionDropout d = {})
      : plan(diffusion::hop_plan(c)), drop(d), plain(c.plain_attention()) {
    if (plain) drop.p_hops = 0.0f;
  }
};

template <class T>
struct DiffusionGrads {
  Vec<T> dq, dk, dv;
};

// Z from q, k, v (all (n, H, D)); the weights with dropout applied.
template <class T>
Vec<T> diffuse(const Graph& g, const Vec<T>& q, const Vec<T>& k, const Vec<T>& v, std::int64_t H,
               std::int64_t D, const std::vector<std::uint8_t>& mask, const Diffusion& c) {
  const int K = c.plan.hops();
  if (K == 0) {
    Vec<T> z = v;
    for (auto& x : z) x *= T(c.plan.v_scale);
    return z;
  }
  const T scale = c.scale > 0 ? T(c.scale) : T(1) / std::sqrt(T(D));
  Vec<T> w = softmax(g, scores(g, q, k, H, D, scale), H, mask);
  drop(w, c.drop.p_weights, c.drop.seed, c.drop.weights_stream());
  Vec<T> x = v;
  for (int kk = 1; kk <= K; ++kk) {
    Vec<T> nx = gather(g, w, x, H, D, T(c.plan.a[at(kk - 1)]));
    for (std::size_t f = 0; f < nx.size(); ++f) nx[f] += T(c.plan.b[at(kk - 1)]) * v[f];
    drop(nx, c.drop.p_hops, c.drop.seed, c.drop.hop_stream(kk));
    x = std::move(nx);
  }
  return x;
}

template <class T>
DiffusionGrads<T> diffuse_backward(const Graph& g, const Vec<T>& q, const Vec<T>& k, const Vec<T>& v,
                                   std::int64_t H, std::int64_t D, const std::vector<std::uint8_t>& mask,
                                   const Diffusion& c, const Vec<T>& dz) {
  DiffusionGrads<T> r;
  const int K = c.plan.hops();
  const std::size_t N = v.size();
  if (K == 0) {
    r.dv = dz;
    for (auto& x : r.dv) x *= T(c.plan.v_scale);
    r.dq.assign(N, T(0));
    r.dk.assign(N, T(0));
    return r;
  }
  const T scale = c.scale > 0 ? T(c.scale) : T(1) / std::sqrt(T(D));
  const Vec<T> w0 = softmax(g, scores(g, q, k, H, D, scale), H, mask);
  Vec<T> w = w0;
  drop(w, c.drop.p_weights, c.drop.seed, c.drop.weights_stream());
  std::vector<Vec<T>> xs{v};  // hop inputs x_0 .. x_{K-1}
  for (int kk = 1; kk < K; ++kk) {
    Vec<T> nx = gather(g, w, xs.back(), H, D, T(c.plan.a[at(kk - 1)]));
    for (std::size_t f = 0; f < N; ++f) nx[f] += T(c.plan.b[at(kk - 1)]) * v[f];
    drop(nx, c.drop.p_hops, c.drop.seed, c.drop.hop_stream(kk));
    xs.push_back(std::move(nx));
  }
  Vec<T> G = dz, dw(w.size(), T(0));
  r.dv.assign(N, T(0));
  for (int kk = K; kk >= 1; --kk) {
    drop(G, c.drop.p_hops, c.drop.seed, c.drop.hop_stream(kk));  // P_k
    const T a = T(c.plan.a[at(kk - 1)]), b = T(c.plan.b[at(kk - 1)]);
    for (std::size_t f = 0; f < N; ++f) r.dv[f] += b * G[f];
    const Vec<T> dwk = edge_dot(g, G, xs[at(kk - 1)], H, D, a);
    for (std::size_t e = 0; e < dw.size(); ++e) dw[e] += dwk[e];
    G = scatter(g, w, G, H, D, a);
  }
  for (std::size_t f = 0; f < N; ++f) r.dv[f] += G[f];
  drop(dw, c.drop.p_weights, c.drop.seed, c.drop.weights_stream());
  const Vec<T> ds = softmax_backward(g, w0, dw, H);
  // s_e = scale <q_i, k_j>: dq_i = scale sum ds k_j, dk_j = scale sum ds q_i
  r.dq = gather(g, ds, k, H, D, scale);
  r.dk = scatter(g, ds, q, H, D, scale);
  return r;
}

// ---- finite differences ----

// Relative error ||fd - analytic|| / ||analytic|| of d loss / d x over the listed coordinates of x,
// with central differences of step eps * max(1, |x_i|).
inline double fd_check(const std::function<double()>& loss, std::vector<double>& x,
                       const std::vector<double>& analytic, const std::vector<std::size_t>& coords,
                       double eps = 1e-5) {
  double num = 0, den = 0;
  for (std::size_t i : coords) {
    const double x0 = x[i];
    const double h = eps * std::max(1.0, std::abs(x0));
    x[i] = x0 + h;
    const double lp = loss();
    x[i] = x0 - h;
    const double lm = loss();
    x[i] = x0;
    const double fd = (lp - lm) / (2 * h);
    num += (fd - analytic[i]) * (fd - analytic[i]);
    den += analytic[i] * analytic[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Up to `count` coordinates spread over [0, size) (all of them when size <= count).
inline std::vector<std::size_t> sample_coords(std::size_t size, std::size_t count, std::uint64_t seed) {
  std::vector<std::size_t> c;
  if (size <= count) {
    for (std::size_t i = 0; i < size; ++i) c.push_back(i);
    return c;
  }
  for (std::size_t k = 0; k < count; ++k)
    c.push_back(static_cast<std::size_t>(rng::below(seed, 77, k, static_cast<std::uint32_t>(size))));
  return c;
}

template <class T>
double dot(const Vec<T>& a, const Vec<T>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return s;
}

inline Vec<double> random_vec(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  Vec<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * rng::normal(seed, 5, i);
  return v;
}

inline Vec<double> to_double(const float* p, std::int64_t n) {
  return Vec<double>(p, p + n);
}

// ||a - b|| / ||b||
inline double rel(const Vec<double>& a, const Vec<double>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace diffuser::test::grad
