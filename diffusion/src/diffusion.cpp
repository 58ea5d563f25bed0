#include <cmath>
#include <optional>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>

namespace diffuser::diffusion {

double StageTimes::total_ms() const {
  double t = scores_ms + prepare_ms;
  for (double h : hop_ms) t += h;
  return t;
}

namespace {

template <class T>
void check_finite_impl(Tensor3View<const T> x, const char* name) {
  const std::int64_t bad = ops::find_non_finite(x);
  if (bad < 0) return;
  const std::int64_t t = bad % x.d, h = (bad / x.d) % x.h, i = bad / (x.d * x.h);
  throw Error(cat(name, " holds a non-finite value at [", i, ", ", h, ", ", t, "] (NaN or Inf)"));
}

float resolved_scale(float scale, std::int64_t d) {
  return scale > 0.0f ? scale : 1.0f / std::sqrt(static_cast<float>(d));
}

// Times one stage when asked: the device is drained before the clock is read.
template <class F>
double timed(Device d, bool want, F&& f) {
  if (!want) {
    f();
    return 0.0;
  }
  synchronize(d);
  Stopwatch sw;
  f();
  synchronize(d);
  return sw.ms();
}

// W: (E, H) edge-major values or EdgeWeights (the primitives take both).
template <class T, class W>
void diffuse_values_impl(const Csr& g, const W& weights, Tensor3View<const T> v, const Coefficients& c,
                         Tensor3View<T> out, Tensor3View<T> scratch, StageTimes* times) {
  const CsrView gv = g.view();
  const Device dev = g.device();
  const int K = c.hops();
  if (times) times->hop_ms.clear();
  auto record = [&](double ms) {
    if (times) times->hop_ms.push_back(ms);
  };

  if (c.plain_attention()) {
    record(timed(dev, times, [&] { ops::gather_axpby(gv, weights, 1.0f, v, 0.0f, {}, out); }));
    return;
  }
  const auto& theta = c.theta();
  if (K == 0) {
    ops::node_axpby(static_cast<float>(theta[0]), v, 0.0f, v, out);
    return;
  }
  DIFFUSER_CHECK(K == 1 || (scratch.n == v.n && scratch.h == v.h && scratch.d == v.d), "diffuse_values: ", K,
                 " hops need a scratch buffer shaped like v");
  // Packed once for the K hops where the backend has a faster form (one hop would not repay it).
  std::optional<ops::HopWeights> hw;
  if (K >= 2) {
    const double prepare = timed(dev, times, [&] { hw = ops::prepare_hops(gv, weights, v); });
    if (times) times->prepare_ms = hw->packed ? prepare : 0.0;  // nothing packed: no stage to show
  }
  // Hop k writes `out` when K - k is even, so the last hop always lands in `out`.
  Tensor3View<const T> x = v;
  for (int k = 1; k <= K; ++k) {
    Tensor3View<T> dst = ((K - k) % 2 == 0) ? out : scratch;
    float a, b;
    if (c.kind() == Coefficients::Kind::ppr) {
      // The authors' recursion: Z_{k+1} = (1 - alpha) A Z_k + alpha V.
      a = static_cast<float>(1.0 - c.alpha());
      b = static_cast<float>(c.alpha());
    } else {
      // Horner's scheme: Z' = theta_K V; Z' <- A Z' + theta_{K-k} V, so one fused pass per hop.
      a = k == 1 ? static_cast<float>(theta[K]) : 1.0f;
      b = static_cast<float>(theta[K - k]);
    }
    record(timed(dev, times, [&] {
      if (hw)
        ops::gather_axpby(gv, *hw, a, x, b, v, dst);
      else
        ops::gather_axpby(gv, weights, a, x, b, v, dst);
    }));
    x = dst;
  }
}

template <class T>
Tensor3<T> diffuse_impl(const Csr& g, Tensor3View<const T> q, Tensor3View<const T> k, Tensor3View<const T> v,
                        const Coefficients& c, ops::NodeMask mask, StageTimes* times) {
  ops::EdgeWeights w(g.view(), q.h);
  const double ms = timed(g.device(), times, [&] { attention_weights(g, q, k, mask, 0.0f, w); });
  if (times) times->scores_ms = ms;
  Tensor3<T> out(v.n, v.h, v.d, g.device());
  Tensor3<T> scratch;
  if (c.hops() >= 2) scratch = Tensor3<T>(v.n, v.h, v.d, g.device());
  diffuse_values_impl<T>(g, w, v, c, out.view(), scratch.view(), times);
  return out;
}

}  // namespace

void check_finite(Tensor3View<const float> x, const char* name) {
  check_finite_impl(x, name);
}
void check_finite(Tensor3View<const bf16> x, const char* name) {
  check_finite_impl(x, name);
}

void attention_weights(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                       ops::NodeMask mask, float scale, MatrixView<float> weights) {
  ops::edge_attention(g.view(), q, k, resolved_scale(scale, q.d), mask, weights);
}

void attention_weights(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                       ops::NodeMask mask, float scale, ops::EdgeWeights& weights) {
  ops::edge_attention(g.view(), q, k, resolved_scale(scale, q.d), mask, weights);
}

void attention_weights(const Csr& g, Tensor3View<const bf16> q, Tensor3View<const bf16> k, ops::NodeMask mask,
                       float scale, ops::EdgeWeights& weights) {
  ops::edge_attention(g.view(), q, k, resolved_scale(scale, q.d), mask, weights);
}

Matrix<float> attention_weights(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                                ops::NodeMask mask, float scale) {
  Matrix<float> w(g.num_edges(), q.h, g.device());
  attention_weights(g, q, k, mask, scale, w.view());
  return w;
}

void diffuse_values(const Csr& g, MatrixView<const float> weights, Tensor3View<const float> v,
                    const Coefficients& c, Tensor3View<float> out, Tensor3View<float> scratch,
                    StageTimes* times) {
  diffuse_values_impl<float>(g, weights, v, c, out, scratch, times);
}

void diffuse_values(const Csr& g, const ops::EdgeWeights& weights, Tensor3View<const float> v,
                    const Coefficients& c, Tensor3View<float> out, Tensor3View<float> scratch,
                    StageTimes* times) {
  diffuse_values_impl<float>(g, weights, v, c, out, scratch, times);
}

void diffuse_values(const Csr& g, const ops::EdgeWeights& weights, Tensor3View<const bf16> v,
                    const Coefficients& c, Tensor3View<bf16> out, Tensor3View<bf16> scratch,
                    StageTimes* times) {
  diffuse_values_impl<bf16>(g, weights, v, c, out, scratch, times);
}

Tensor3<float> diffuse(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                       Tensor3View<const float> v, const Coefficients& c, ops::NodeMask mask,
                       StageTimes* times) {
  return diffuse_impl<float>(g, q, k, v, c, mask, times);
}

Tensor3<bf16> diffuse(const Csr& g, Tensor3View<const bf16> q, Tensor3View<const bf16> k,
                      Tensor3View<const bf16> v, const Coefficients& c, ops::NodeMask mask,
                      StageTimes* times) {
  return diffuse_impl<bf16>(g, q, k, v, c, mask, times);
}

std::int64_t forward_bytes(std::int64_t n, std::int64_t edges, std::int64_t heads, std::int64_t dim,
                           int node_buffers, int element_bytes) {
  const std::int64_t graph = (n + 1) * 8 + edges * 4;
  const std::int64_t weights = edges * heads * 4;
  return graph + weights + node_buffers * n * heads * dim * element_bytes;
}

}  // namespace diffuser::diffusion
