// The encoder layer written plainly in float64 (templated on the scalar type) for the tests: dense
// parts (linear, LayerNorm, GELU), the self-attention over grad_reference.hpp's diffusion, the
// post-LN and pre-LN layers, and their hand-written backward. Matrices are (rows, cols) row-major.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include <diffuser/attention/layer.hpp>
#include <diffuser/attention/params.hpp>

#include "attention/grad_reference.hpp"

namespace diffuser::test::grad {

// ---- dense parts ----

// y (T, out) = x (T, in) W^T + b
template <class T>
Vec<T> linear(const Vec<T>& x, std::int64_t rows, std::int64_t in, const Vec<T>& W, const Vec<T>& b,
              std::int64_t out) {
  Vec<T> y(at(rows * out));
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t o = 0; o < out; ++o) {
      T acc = b.empty() ? T(0) : b[at(o)];
      for (std::int64_t c = 0; c < in; ++c) acc += x[at(i * in + c)] * W[at(o * in + c)];
      y[at(i * out + o)] = acc;
    }
  return y;
}

// dx = dy W; dW += dy^T x; db += sum dy
template <class T>
Vec<T> linear_backward(const Vec<T>& x, std::int64_t rows, std::int64_t in, const Vec<T>& W, std::int64_t out,
                       const Vec<T>& dy, Vec<T>& dW, Vec<T>& db) {
  Vec<T> dx(at(rows * in), T(0));
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t o = 0; o < out; ++o) {
      const T g = dy[at(i * out + o)];
      db[at(o)] += g;
      for (std::int64_t c = 0; c < in; ++c) {
        dx[at(i * in + c)] += g * W[at(o * in + c)];
        dW[at(o * in + c)] += g * x[at(i * in + c)];
      }
    }
  return dx;
}

template <class T>
struct NormCache {
  Vec<T> xhat, rstd;
};

template <class T>
Vec<T> layer_norm(const Vec<T>& x, std::int64_t rows, std::int64_t n, const Vec<T>& gamma, const Vec<T>& beta,
                  T eps, NormCache<T>* cache) {
  Vec<T> y(x.size());
  if (cache) {
    cache->xhat.resize(x.size());
    cache->rstd.resize(at(rows));
  }
  for (std::int64_t i = 0; i < rows; ++i) {
    T mean = 0, var = 0;
    for (std::int64_t c = 0; c < n; ++c) mean += x[at(i * n + c)];
    mean /= T(n);
    for (std::int64_t c = 0; c < n; ++c) var += (x[at(i * n + c)] - mean) * (x[at(i * n + c)] - mean);
    var /= T(n);
    const T r = T(1) / std::sqrt(var + eps);
    for (std::int64_t c = 0; c < n; ++c) {
      const T h = (x[at(i * n + c)] - mean) * r;
      if (cache) cache->xhat[at(i * n + c)] = h;
      y[at(i * n + c)] = gamma[at(c)] * h + beta[at(c)];
    }
    if (cache) cache->rstd[at(i)] = r;
  }
  return y;
}

template <class T>
Vec<T> layer_norm_backward(const NormCache<T>& cache, std::int64_t rows, std::int64_t n, const Vec<T>& gamma,
                           const Vec<T>& dy, Vec<T>& dgamma, Vec<T>& dbeta) {
  Vec<T> dx(dy.size());
  for (std::int64_t i = 0; i < rows; ++i) {
    T s1 = 0, s2 = 0;
    for (std::int64_t c = 0; c < n; ++c) {
      const T g = dy[at(i * n + c)] * gamma[at(c)];
      s1 += g;
      s2 += g * cache.xhat[at(i * n + c)];
      dgamma[at(c)] += dy[at(i * n + c)] * cache.xhat[at(i * n + c)];
      dbeta[at(c)] += dy[at(i * n + c)];
    }
    for (std::int64_t c = 0; c < n; ++c)
      dx[at(i * n + c)] = cache.rstd[at(i)] * (dy[at(i * n + c)] * gamma[at(c)] - s1 / T(n) -
                                               cache.xhat[at(i * n + c)] * s2 / T(n));
  }
  return dx;
}

template <class T>
T gelu(T x) {
  return T(0.5) * x * (T(1) + std::erf(x / std::sqrt(T(2))));
}
template <class T>
T gelu_grad(T x) {
  const T pi = T(3.14159265358979323846);
  return T(0.5) * (T(1) + std::erf(x / std::sqrt(T(2)))) + x * std::exp(-x * x / T(2)) / std::sqrt(T(2) * pi);
}

// ---- the encoder layer ----

template <class T>
struct LayerWeights {
  Vec<T> wqkv, bqkv, wo, bo, g1, b1, w1, c1, w2, c2, g2, b2;
  std::vector<Vec<T>*> all() { return {&wqkv, &bqkv, &wo, &bo, &g1, &b1, &w1, &c1, &w2, &c2, &g2, &b2}; }
};

template <class T>
LayerWeights<T> weights_of(attention::LayerParams& p) {
  auto v = [](const float* d, std::int64_t n) { return Vec<T>(d, d + n); };
  LayerWeights<T> w;
  w.wqkv = v(p.qkv.w.buffer().data(), p.qkv.w.buffer().size());
  w.bqkv = v(p.qkv.b.data(), p.qkv.b.size());
  w.wo = v(p.attn_out.w.buffer().data(), p.attn_out.w.buffer().size());
  w.bo = v(p.attn_out.b.data(), p.attn_out.b.size());
  w.g1 = v(p.ln1.gamma.data(), p.ln1.gamma.size());
  w.b1 = v(p.ln1.beta.data(), p.ln1.beta.size());
  w.w1 = v(p.ffn_in.w.buffer().data(), p.ffn_in.w.buffer().size());
  w.c1 = v(p.ffn_in.b.data(), p.ffn_in.b.size());
  w.w2 = v(p.ffn_out.w.buffer().data(), p.ffn_out.w.buffer().size());
  w.c2 = v(p.ffn_out.b.data(), p.ffn_out.b.size());
  w.g2 = v(p.ln2.gamma.data(), p.ln2.gamma.size());
  w.b2 = v(p.ln2.beta.data(), p.ln2.beta.size());
  return w;
}

template <class T>
LayerWeights<T> zeros_like(LayerWeights<T>& w) {
  LayerWeights<T> z;
  auto src = w.all();
  auto dst = z.all();
  for (std::size_t i = 0; i < src.size(); ++i) dst[i]->assign(src[i]->size(), T(0));
  return z;
}

struct LayerSpec {
  std::int64_t T = 0, d = 0, H = 0, I = 0;
  double eps = 1e-5;
  bool pre_ln = false;
  diffusion::Coefficients coeffs = diffusion::Coefficients::ppr(3, 0.2);
  double p_hidden = 0, p_weights = 0, p_hops = 0;
  bool training = false;
  std::uint64_t seed = 0;
  int layer = 0;

  diffusion::DiffusionDropout diffusion_dropout() const {
    diffusion::DiffusionDropout dd;
    if (!training) return dd;
    dd.p_weights = static_cast<float>(p_weights);
    dd.p_hops = static_cast<float>(p_hops);
    dd.seed = seed;
    dd.stream = attention::dropout_stream(layer, attention::DropSite::attention);
    return dd;
  }
  template <class U>
  void hidden_drop(Vec<U>& x, attention::DropSite site) const {
    if (training) drop(x, p_hidden, seed, attention::dropout_stream(layer, site));
  }
};

// Q, K or V (0, 1, 2) of a packed (T, 3d) projection as contiguous (T, H, D).
template <class T>
Vec<T> unpack(const Vec<T>& qkv, std::int64_t rows, std::int64_t d, int which) {
  Vec<T> out(at(rows * d));
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t c = 0; c < d; ++c) out[at(i * d + c)] = qkv[at(i * 3 * d + which * d + c)];
  return out;
}

template <class T>
Vec<T> attention(const Graph& g, const LayerSpec& s, const LayerWeights<T>& w, const Vec<T>& x,
                 const std::vector<std::uint8_t>& mask) {
  const std::int64_t D = s.d / s.H;
  const Vec<T> qkv = linear(x, s.T, s.d, w.wqkv, w.bqkv, 3 * s.d);
  const Diffusion c(s.coeffs, s.diffusion_dropout());
  const Vec<T> z = diffuse(g, unpack(qkv, s.T, s.d, 0), unpack(qkv, s.T, s.d, 1), unpack(qkv, s.T, s.d, 2),
                           s.H, D, mask, c);
  return linear(z, s.T, s.d, w.wo, w.bo, s.d);
}

template <class T>
Vec<T> attention_backward(const Graph& g, const LayerSpec& s, const LayerWeights<T>& w, const Vec<T>& x,
                          const std::vector<std::uint8_t>& mask, const Vec<T>& dout, LayerWeights<T>& gw) {
  const std::int64_t D = s.d / s.H;
  const Vec<T> qkv = linear(x, s.T, s.d, w.wqkv, w.bqkv, 3 * s.d);
  const Diffusion c(s.coeffs, s.diffusion_dropout());
  const Vec<T> q = unpack(qkv, s.T, s.d, 0), k = unpack(qkv, s.T, s.d, 1), v = unpack(qkv, s.T, s.d, 2);
  const Vec<T> z = diffuse(g, q, k, v, s.H, D, mask, c);
  const Vec<T> dz = linear_backward(z, s.T, s.d, w.wo, s.d, dout, gw.wo, gw.bo);
  const auto dg = diffuse_backward(g, q, k, v, s.H, D, mask, c, dz);
  Vec<T> dqkv(at(s.T * 3 * s.d));
  for (std::int64_t i = 0; i < s.T; ++i)
    for (std::int64_t cc = 0; cc < s.d; ++cc) {
      dqkv[at(i * 3 * s.d + cc)] = dg.dq[at(i * s.d + cc)];
      dqkv[at(i * 3 * s.d + s.d + cc)] = dg.dk[at(i * s.d + cc)];
      dqkv[at(i * 3 * s.d + 2 * s.d + cc)] = dg.dv[at(i * s.d + cc)];
    }
  return linear_backward(x, s.T, s.d, w.wqkv, 3 * s.d, dqkv, gw.wqkv, gw.bqkv);
}

template <class T>
Vec<T> add(const Vec<T>& a, const Vec<T>& b) {
  Vec<T> r(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) r[i] = a[i] + b[i];
  return r;
}

template <class T>
Vec<T> ffn(const LayerSpec& s, const LayerWeights<T>& w, const Vec<T>& u) {
  Vec<T> pre = linear(u, s.T, s.d, w.w1, w.c1, s.I);
  for (auto& x : pre) x = gelu(x);
  return linear(pre, s.T, s.I, w.w2, w.c2, s.d);
}

// d(out) -> d(u), adding the weight gradients.
template <class T>
Vec<T> ffn_backward(const LayerSpec& s, const LayerWeights<T>& w, const Vec<T>& u, const Vec<T>& dout,
                    LayerWeights<T>& gw) {
  const Vec<T> pre = linear(u, s.T, s.d, w.w1, w.c1, s.I);
  Vec<T> act = pre;
  for (auto& x : act) x = gelu(x);
  Vec<T> dact = linear_backward(act, s.T, s.I, w.w2, s.d, dout, gw.w2, gw.c2);
  for (std::size_t i = 0; i < dact.size(); ++i) dact[i] *= gelu_grad(pre[i]);
  return linear_backward(u, s.T, s.d, w.w1, s.I, dact, gw.w1, gw.c1);
}

template <class T>
Vec<T> layer(const Graph& g, const LayerSpec& s, const LayerWeights<T>& w, const Vec<T>& x,
             const std::vector<std::uint8_t>& mask) {
  const T eps = T(s.eps);
  if (!s.pre_ln) {
    Vec<T> a = attention(g, s, w, x, mask);
    s.hidden_drop(a, attention::DropSite::attention_output);
    const Vec<T> h = layer_norm(add(a, x), s.T, s.d, w.g1, w.b1, eps, static_cast<NormCache<T>*>(nullptr));
    Vec<T> f = ffn(s, w, h);
    s.hidden_drop(f, attention::DropSite::ffn_output);
    return layer_norm(add(f, h), s.T, s.d, w.g2, w.b2, eps, static_cast<NormCache<T>*>(nullptr));
  }
  const Vec<T> u1 = layer_norm(x, s.T, s.d, w.g1, w.b1, eps, static_cast<NormCache<T>*>(nullptr));
  Vec<T> a = attention(g, s, w, u1, mask);
  s.hidden_drop(a, attention::DropSite::attention_output);
  const Vec<T> h = add(x, a);
  const Vec<T> u2 = layer_norm(h, s.T, s.d, w.g2, w.b2, eps, static_cast<NormCache<T>*>(nullptr));
  Vec<T> f = ffn(s, w, u2);
  s.hidden_drop(f, attention::DropSite::ffn_output);
  return add(h, f);
}

// dx, with the parameter gradients added into gw.
template <class T>
Vec<T> layer_backward(const Graph& g, const LayerSpec& s, const LayerWeights<T>& w, const Vec<T>& x,
                      const std::vector<std::uint8_t>& mask, const Vec<T>& dy, LayerWeights<T>& gw) {
  const T eps = T(s.eps);
  NormCache<T> n1, n2;
  if (!s.pre_ln) {
    Vec<T> a = attention(g, s, w, x, mask);
    s.hidden_drop(a, attention::DropSite::attention_output);
    const Vec<T> h = layer_norm(add(a, x), s.T, s.d, w.g1, w.b1, eps, &n1);
    Vec<T> f = ffn(s, w, h);
    s.hidden_drop(f, attention::DropSite::ffn_output);
    layer_norm(add(f, h), s.T, s.d, w.g2, w.b2, eps, &n2);
    Vec<T> ds2 = layer_norm_backward(n2, s.T, s.d, w.g2, dy, gw.g2, gw.b2);
    Vec<T> df = ds2;
    s.hidden_drop(df, attention::DropSite::ffn_output);
    const Vec<T> dh = add(ds2, ffn_backward(s, w, h, df, gw));
    const Vec<T> ds1 = layer_norm_backward(n1, s.T, s.d, w.g1, dh, gw.g1, gw.b1);
    Vec<T> da = ds1;
    s.hidden_drop(da, attention::DropSite::attention_output);
    return add(ds1, attention_backward(g, s, w, x, mask, da, gw));
  }
  const Vec<T> u1 = layer_norm(x, s.T, s.d, w.g1, w.b1, eps, &n1);
  Vec<T> a = attention(g, s, w, u1, mask);
  s.hidden_drop(a, attention::DropSite::attention_output);
  const Vec<T> h = add(x, a);
  const Vec<T> u2 = layer_norm(h, s.T, s.d, w.g2, w.b2, eps, &n2);
  Vec<T> df = dy;
  s.hidden_drop(df, attention::DropSite::ffn_output);
  const Vec<T> du2 = ffn_backward(s, w, u2, df, gw);
  const Vec<T> dh = add(dy, layer_norm_backward(n2, s.T, s.d, w.g2, du2, gw.g2, gw.b2));
  Vec<T> da = dh;
  s.hidden_drop(da, attention::DropSite::attention_output);
  const Vec<T> du1 = attention_backward(g, s, w, u1, mask, da, gw);
  return add(dh, layer_norm_backward(n1, s.T, s.d, w.g1, du1, gw.g1, gw.b1));
}

}  // namespace diffuser::test::grad
