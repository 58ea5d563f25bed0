// The Transformer encoder layer, post-LN (the authors') or pre-LN, forward and backward. The
// backward keeps only LayerNorm's normalised inputs and 1/std, the FFN pre-activation and the
// attention cache; LayerNorm outputs and GELU are recomputed (one elementwise pass each).
#include <algorithm>

#include <diffuser/attention/dense.hpp>
#include <diffuser/attention/layer.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops_backward.hpp>
#include <diffuser/engine/sys.hpp>

namespace diffuser::attention {

namespace {

template <class F>
void timed(double* slot, F&& f) {
  if (!slot) return f();
  Stopwatch sw;
  f();
  *slot += sw.ms();
}

// Hidden-state dropout on a (T, cols) matrix (same call for values and gradients).
void drop_rows(MatrixView<float> m, float p, const RunMode& mode, DropSite site) {
  if (!mode.training || p <= 0.0f) return;
  ops::dropout(Tensor3View<float>{m.data, m.rows, 1, m.cols, m.cols, m.cols, m.device}, p, mode.seed,
               dropout_stream(mode.layer, site));
}

void check_shapes(const LayerOptions& o, const LayerParams& p, const GraphBatch& batch,
                  MatrixView<const float> x) {
  DIFFUSER_CHECK(o.heads > 0 && o.d_model % o.heads == 0, "layer: d_model ", o.d_model,
                 " is not a multiple of the head count ", o.heads);
  DIFFUSER_CHECK(p.qkv.out() == 3 * o.d_model && p.qkv.in() == o.d_model &&
                     p.ffn_in.out() == o.intermediate && p.ffn_out.in() == o.intermediate,
                 "layer: the parameters (d_model ", p.attn_out.out(), ", intermediate ", p.ffn_in.out(),
                 ") do not match the options (", o.d_model, ", ", o.intermediate, ")");
  DIFFUSER_CHECK(x.cols == o.d_model && x.rows == batch.tokens(), "layer: the input is (", x.rows, ", ",
                 x.cols, ") but (tokens, d_model) = (", batch.tokens(), ", ", o.d_model, ")");
}

}  // namespace

std::int64_t LayerCache::bytes() const {
  return attn.bytes() + static_cast<std::int64_t>(xhat1.buffer().bytes() + xhat2.buffer().bytes() +
                                                  rstd1.bytes() + rstd2.bytes() + pre_gelu.buffer().bytes());
}

std::int64_t layer_cache_bytes(const LayerOptions& o, std::int64_t tokens) {
  std::int64_t kept_hops = 0;
  if (o.hop_memory == diffusion::HopMemory::keep)
    kept_hops = std::max(0, diffusion::hop_plan(o.coefficients).hops() - 1);
  return tokens * (6 * o.d_model + o.intermediate + 2 + kept_hops * o.d_model) * 4;
}

std::int64_t layer_backward_peak_bytes(const LayerOptions& o, std::int64_t tokens, std::int64_t edges) {
  // Transient (T, d) and (T, I) buffers of the dense parts, the packed dqkv, and the diffusion's own.
  const std::int64_t dense = tokens * (4 * o.d_model + 2 * o.intermediate) * 4;
  const std::int64_t dqkv = tokens * 3 * o.d_model * 4;
  return dense + dqkv +
         diffusion::backward_bytes(tokens, edges, o.heads, o.head_dim(),
                                   diffusion::hop_plan(o.coefficients).hops(), o.hop_memory);
}

void layer_forward(const LayerOptions& o, const LayerParams& p, const GraphBatch& batch,
                   MatrixView<const float> x, MatrixView<float> y, const RunMode& mode, LayerCache* cache,
                   LayerTimes* times) {
  check_shapes(o, p, batch, x);
  DIFFUSER_CHECK(y.rows == x.rows && y.cols == x.cols, "layer: the output must be shaped like the input");
  DIFFUSER_CHECK(y.data != x.data, "layer: the output must not alias the input");
  const std::int64_t T = x.rows, d = o.d_model, I = o.intermediate;
  const float eps = o.layer_norm_eps;
  double* ew = times ? &times->elementwise_ms : nullptr;
  double* gm = times ? &times->gemm_ms : nullptr;
  Matrix<float> xhat1(T, d), xhat2(T, d), pre(T, I);
  Buffer<float> rstd1(T), rstd2(T);
  Matrix<float> h(T, d), attn(T, d);

  AttentionCache* acache = cache ? &cache->attn : nullptr;
  if (!o.pre_layer_norm) {
    attention_forward(o, p, batch, x, attn.view(), mode, acache, times);
    timed(ew, [&] {
      drop_rows(attn.view(), o.p_hidden, mode, DropSite::attention_output);
      dense::add(x, attn.view());
      dense::layer_norm_forward(attn.view(), p.ln1.gamma.data(), p.ln1.beta.data(), eps, h.view(),
                                xhat1.view(), rstd1.data());
    });
    Matrix<float> act(T, I);
    timed(gm, [&] { dense::linear_forward(h.view(), p.ffn_in.w.view(), p.ffn_in.b.data(), pre.view()); });
    timed(ew, [&] { dense::gelu_forward(pre.view(), act.view()); });
    timed(gm,
          [&] { dense::linear_forward(act.view(), p.ffn_out.w.view(), p.ffn_out.b.data(), attn.view()); });
    timed(ew, [&] {
      drop_rows(attn.view(), o.p_hidden, mode, DropSite::ffn_output);
      dense::add(h.view(), attn.view());
      dense::layer_norm_forward(attn.view(), p.ln2.gamma.data(), p.ln2.beta.data(), eps, y, xhat2.view(),
                                rstd2.data());
    });
  } else {
    Matrix<float> u(T, d);
    timed(ew, [&] {
      dense::layer_norm_forward(x, p.ln1.gamma.data(), p.ln1.beta.data(), eps, u.view(), xhat1.view(),
                                rstd1.data());
    });
    attention_forward(o, p, batch, u.view(), attn.view(), mode, acache, times);
    timed(ew, [&] {
      drop_rows(attn.view(), o.p_hidden, mode, DropSite::attention_output);
      dense::add(x, attn.view(), h.view());
      dense::layer_norm_forward(h.view(), p.ln2.gamma.data(), p.ln2.beta.data(), eps, u.view(), xhat2.view(),
                                rstd2.data());
    });
    Matrix<float> act(T, I);
    timed(gm, [&] { dense::linear_forward(u.view(), p.ffn_in.w.view(), p.ffn_in.b.data(), pre.view()); });
    timed(ew, [&] { dense::gelu_forward(pre.view(), act.view()); });
    timed(gm, [&] { dense::linear_forward(act.view(), p.ffn_out.w.view(), p.ffn_out.b.data(), y); });
    timed(ew, [&] {
      drop_rows(y, o.p_hidden, mode, DropSite::ffn_output);
      dense::add(h.view(), y);
    });
  }
  if (cache) {
    cache->xhat1 = std::move(xhat1);
    cache->xhat2 = std::move(xhat2);
    cache->rstd1 = std::move(rstd1);
    cache->rstd2 = std::move(rstd2);
    cache->pre_gelu = std::move(pre);
  }
}

void layer_backward(const LayerOptions& o, const LayerParams& p, const GraphBatch& batch,
                    MatrixView<const float> x, const LayerCache& cache, MatrixView<const float> dy,
                    MatrixView<float> dx, LayerParams& g, const RunMode& mode, LayerTimes* times) {
  check_shapes(o, p, batch, x);
  const std::int64_t T = x.rows, d = o.d_model, I = o.intermediate;
  DIFFUSER_CHECK(dy.rows == T && dy.cols == d && dx.rows == T && dx.cols == d,
                 "layer backward: dy and dx must be shaped like the input (", T, ", ", d, ")");
  DIFFUSER_CHECK(cache.pre_gelu.rows() == T, "layer backward: the cache holds ", cache.pre_gelu.rows(),
                 " tokens but the input has ", T, " (was the forward run with a cache?)");
  double* ew = times ? &times->elementwise_ms : nullptr;
  double* gm = times ? &times->gemm_ms : nullptr;
  Matrix<float> dh(T, d), dtmp(T, d), ln(T, d);
  Matrix<float> dact(T, I), act(T, I);

  // The FFN block's backward, from d(out2) (the gradient of the FFN output after dropout) in dtmp;
  // ln = the FFN's input (a LayerNorm output); adds the input's gradient into dh.
  auto ffn_backward = [&](const Matrix<float>& xhat, const Norm& norm) {
    timed(ew, [&] {
      drop_rows(dtmp.view(), o.p_hidden, mode, DropSite::ffn_output);
      dense::gelu_forward(cache.pre_gelu.view(), act.view());
      dense::layer_norm_apply(xhat.view(), norm.gamma.data(), norm.beta.data(), ln.view());
    });
    timed(gm, [&] {
      dense::linear_backward(act.view(), p.ffn_out.w.view(), dtmp.view(), dact.view(), false,
                             g.ffn_out.w.view(), g.ffn_out.b.data());
    });
    timed(ew, [&] { dense::gelu_backward(cache.pre_gelu.view(), dact.view(), dact.view()); });
  };

  if (!o.pre_layer_norm) {
    // y = LN2(s2), s2 = h + drop(out2), h = LN1(s1), s1 = x + drop(attn)
    timed(ew, [&] {
      dense::layer_norm_backward(cache.xhat2.view(), cache.rstd2.data(), p.ln2.gamma.data(), dy, dh.view(),
                                 false, g.ln2.gamma.data(), g.ln2.beta.data());
      dense::copy(dh.view(), dtmp.view());
    });
    ffn_backward(cache.xhat1, p.ln1);
    timed(gm, [&] {
      dense::linear_backward(ln.view(), p.ffn_in.w.view(), dact.view(), dh.view(), true, g.ffn_in.w.view(),
                             g.ffn_in.b.data());
    });
    timed(ew, [&] {
      dense::layer_norm_backward(cache.xhat1.view(), cache.rstd1.data(), p.ln1.gamma.data(), dh.view(), dx,
                                 false, g.ln1.gamma.data(), g.ln1.beta.data());
      dense::copy(dx, dtmp.view());
      drop_rows(dtmp.view(), o.p_hidden, mode, DropSite::attention_output);
    });
    attention_backward(o, p, batch, x, cache.attn, dtmp.view(), dx, true, g, mode, times);
  } else {
    // h = x + drop(Attn(LN1(x))), y = h + drop(FFN(LN2(h)))
    timed(ew, [&] {
      dense::copy(dy, dh.view());
      dense::copy(dy, dtmp.view());
    });
    ffn_backward(cache.xhat2, p.ln2);
    Matrix<float> du(T, d);
    timed(gm, [&] {
      dense::linear_backward(ln.view(), p.ffn_in.w.view(), dact.view(), du.view(), false, g.ffn_in.w.view(),
                             g.ffn_in.b.data());
    });
    timed(ew, [&] {
      dense::layer_norm_backward(cache.xhat2.view(), cache.rstd2.data(), p.ln2.gamma.data(), du.view(),
                                 dh.view(), true, g.ln2.gamma.data(), g.ln2.beta.data());
      dense::copy(dh.view(), dtmp.view());
      drop_rows(dtmp.view(), o.p_hidden, mode, DropSite::attention_output);
      dense::layer_norm_apply(cache.xhat1.view(), p.ln1.gamma.data(), p.ln1.beta.data(), ln.view());
    });
    attention_backward(o, p, batch, ln.view(), cache.attn, dtmp.view(), du.view(), false, g, mode, times);
    timed(ew, [&] {
      dense::copy(dh.view(), dx);
      dense::layer_norm_backward(cache.xhat1.view(), cache.rstd1.data(), p.ln1.gamma.data(), du.view(), dx,
                                 true, g.ln1.gamma.data(), g.ln1.beta.data());
    });
  }
}

}  // namespace diffuser::attention
