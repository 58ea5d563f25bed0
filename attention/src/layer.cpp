// The Transformer encoder layer, post-LN (the authors') or pre-LN, forward and backward. The
// backward keeps only LayerNorm's normalised inputs and 1/std, the FFN pre-activation and the
// attention cache; LayerNorm outputs and GELU are recomputed (one elementwise pass each). Every
// buffer lives on the device of the input, parameters and graph (checked to agree).
#include <algorithm>

#include <diffuser/attention/dense.hpp>
#include <diffuser/attention/layer.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops_backward.hpp>
#include <diffuser/engine/sys.hpp>

namespace diffuser::attention {

namespace {

// Times one stage when asked: the device is drained before the clock is read.
template <class F>
void timed(Device dev, double* slot, F&& f) {
  if (!slot) return f();
  synchronize(dev);
  Stopwatch sw;
  f();
  synchronize(dev);
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
  DIFFUSER_CHECK(p.device() == x.device, "layer: the input is on ", device_name(x.device),
                 " but the parameters are on ", device_name(p.device()),
                 " (move them once with LayerParams::to)");
  DIFFUSER_CHECK(batch.device() == x.device, "layer: the input is on ", device_name(x.device),
                 " but the batch graph is on ", device_name(batch.device()),
                 " (move it once with GraphBatch::to)");
}

}  // namespace

std::int64_t LayerCache::bytes() const {
  return attn.bytes() + static_cast<std::int64_t>(xhat1.buffer().bytes() + xhat2.buffer().bytes() +
                                                  rstd1.bytes() + rstd2.bytes() + pre_gelu.buffer().bytes());
}

std::int64_t layer_cache_bytes(const LayerOptions& o, std::int64_t tokens, std::int64_t edges) {
  const int K = diffusion::hop_plan(o.coefficients).hops();
  const bool keep = o.hop_memory == diffusion::HopMemory::keep && K >= 1;
  const std::int64_t kept_hops = keep ? K - 1 : 0;
  return tokens * (6 * o.d_model + o.intermediate + 2 + kept_hops * o.d_model) * 4 +
         (keep ? edges * o.heads * 4 : 0);
}

std::int64_t layer_backward_peak_bytes(const LayerOptions& o, std::int64_t tokens, std::int64_t edges) {
  // Two phases: the FFN's backward (dh, dtmp, ln and pre-LN's du of (T, d); one (T, I) buffer for the
  // GELU output and then its gradient), then the attention's (the FFN's buffers freed: dtmp, or
  // pre-LN's four (T, d); dz and the packed dqkv; the diffusion backward's own, per head group).
  const std::int64_t d = o.d_model, row = 4;
  const std::int64_t ffn = tokens * ((o.pre_layer_norm ? 4 : 3) * d + o.intermediate) * row;
  const std::int64_t attn = tokens * ((o.pre_layer_norm ? 4 : 1) * d + 4 * d) * row +
                            diffusion::backward_bytes(tokens, edges, o.heads, o.head_dim(),
                                                      diffusion::hop_plan(o.coefficients).hops(),
                                                      o.hop_memory, attention_head_groups(o, tokens, edges));
  return std::max(ffn, attn);
}

std::int64_t layer_forward_peak_bytes(const LayerOptions& o, std::int64_t tokens, std::int64_t edges) {
  // The layer's (T, d) buffers (post-LN: xhat1, h, attn; pre-LN: u too) and rstd1; during the
  // attention: qkv, z, the scratch node buffer or the kept hop states, the (E, H) weights (keep with
  // weight dropout: a second, dropped copy); after it: qkv and z (kept), the hop states and weights
  // (keep), xhat2, pre and rstd2 (kept) and the FFN's GELU output (T, I).
  const std::int64_t T = tokens, d = o.d_model, I = o.intermediate, row = 4;
  const int K = diffusion::hop_plan(o.coefficients).hops();
  const bool keep = o.hop_memory == diffusion::HopMemory::keep && K >= 1;
  const std::int64_t kept_hops = keep ? K - 1 : 0;
  const std::int64_t scratch = !keep && K >= 2 ? 1 : 0;
  const std::int64_t base = T * ((o.pre_layer_norm ? 4 : 3) * d + 1) * row;
  const std::int64_t weights = K >= 1 ? edges * o.heads * row : 0;
  const std::int64_t dropped = keep && o.p_attn_weights > 0.0f ? weights : 0;
  const std::int64_t attention = base + T * (4 * d + (scratch + kept_hops) * d) * row + weights + dropped;
  const std::int64_t ffn = base + T * (4 * d + kept_hops * d + d + 2 * I + 1) * row + (keep ? weights : 0);
  return std::max(attention, ffn);
}

std::int64_t layer_step_peak_bytes(const LayerOptions& o, std::int64_t tokens, std::int64_t edges) {
  return std::max(layer_forward_peak_bytes(o, tokens, edges),
                  layer_cache_bytes(o, tokens, edges) + layer_backward_peak_bytes(o, tokens, edges));
}

std::int64_t head_group_budget_bytes(const LayerOptions& o, std::int64_t tokens) {
  return tokens * 3 * o.d_model * 4;  // the packed dQKV (T, 3d) of the attention backward
}

int attention_head_groups(const LayerOptions& o, std::int64_t tokens, std::int64_t edges) {
  DIFFUSER_CHECK(o.heads > 0, "layer: ", o.heads, " heads");
  if (o.head_groups != 0) {
    DIFFUSER_CHECK(o.head_groups > 0 && o.heads % o.head_groups == 0, "layer: ", o.head_groups,
                   " head groups do not divide the ", o.heads, " heads");
    return o.head_groups;
  }
  return diffusion::auto_head_groups(tokens, edges, o.heads, o.head_dim(),
                                     diffusion::hop_plan(o.coefficients).hops(), o.hop_memory,
                                     head_group_budget_bytes(o, tokens));
}

void layer_forward(const LayerOptions& o, const LayerParams& p, const GraphBatch& batch,
                   MatrixView<const float> x, MatrixView<float> y, const RunMode& mode, LayerCache* cache,
                   LayerTimes* times) {
  check_shapes(o, p, batch, x);
  DIFFUSER_CHECK(y.rows == x.rows && y.cols == x.cols, "layer: the output must be shaped like the input");
  DIFFUSER_CHECK(y.data != x.data, "layer: the output must not alias the input");
  DIFFUSER_CHECK(y.device == x.device, "layer: the output is on ", device_name(y.device),
                 " but the input is on ", device_name(x.device));
  const Device dev = x.device;
  const std::int64_t T = x.rows, d = o.d_model, I = o.intermediate;
  const float eps = o.layer_norm_eps;
  double* ew = times ? &times->elementwise_ms : nullptr;
  double* gm = times ? &times->gemm_ms : nullptr;
  Matrix<float> xhat1(T, d, dev), h(T, d, dev), attn(T, d, dev);
  Buffer<float> rstd1(T, dev);
  // Allocated after the attention, whose diffusion is the forward's peak.
  Matrix<float> xhat2, pre;
  Buffer<float> rstd2;
  auto allocate_rest = [&] {
    xhat2 = Matrix<float>(T, d, dev);
    pre = Matrix<float>(T, I, dev);
    rstd2 = Buffer<float>(T, dev);
  };

  AttentionCache* acache = cache ? &cache->attn : nullptr;
  if (!o.pre_layer_norm) {
    attention_forward(o, p, batch, x, attn.view(), mode, acache, times);
    allocate_rest();
    timed(dev, ew, [&] {
      drop_rows(attn.view(), o.p_hidden, mode, DropSite::attention_output);
      dense::add(x, attn.view());
      dense::layer_norm_forward(attn.view(), p.ln1.gamma.span(), p.ln1.beta.span(), eps, h.view(),
                                xhat1.view(), rstd1.span());
    });
    Matrix<float> act(T, I, dev);
    timed(dev, gm,
          [&] { dense::linear_forward(h.view(), p.ffn_in.w.view(), p.ffn_in.b.span(), pre.view()); });
    timed(dev, ew, [&] { dense::gelu_forward(pre.view(), act.view()); });
    timed(dev, gm,
          [&] { dense::linear_forward(act.view(), p.ffn_out.w.view(), p.ffn_out.b.span(), attn.view()); });
    timed(dev, ew, [&] {
      drop_rows(attn.view(), o.p_hidden, mode, DropSite::ffn_output);
      dense::add(h.view(), attn.view());
      dense::layer_norm_forward(attn.view(), p.ln2.gamma.span(), p.ln2.beta.span(), eps, y, xhat2.view(),
                                rstd2.span());
    });
  } else {
    Matrix<float> u(T, d, dev);
    timed(dev, ew, [&] {
      dense::layer_norm_forward(x, p.ln1.gamma.span(), p.ln1.beta.span(), eps, u.view(), xhat1.view(),
                                rstd1.span());
    });
    attention_forward(o, p, batch, u.view(), attn.view(), mode, acache, times);
    allocate_rest();
    timed(dev, ew, [&] {
      drop_rows(attn.view(), o.p_hidden, mode, DropSite::attention_output);
      dense::add(x, attn.view(), h.view());
      dense::layer_norm_forward(h.view(), p.ln2.gamma.span(), p.ln2.beta.span(), eps, u.view(), xhat2.view(),
                                rstd2.span());
    });
    Matrix<float> act(T, I, dev);
    timed(dev, gm,
          [&] { dense::linear_forward(u.view(), p.ffn_in.w.view(), p.ffn_in.b.span(), pre.view()); });
    timed(dev, ew, [&] { dense::gelu_forward(pre.view(), act.view()); });
    timed(dev, gm, [&] { dense::linear_forward(act.view(), p.ffn_out.w.view(), p.ffn_out.b.span(), y); });
    timed(dev, ew, [&] {
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
  DIFFUSER_CHECK(dy.device == x.device && dx.device == x.device && cache.pre_gelu.device() == x.device &&
                     g.device() == x.device,
                 "layer backward: dy, dx, the cache and the gradients must be on the input's device (",
                 device_name(x.device), ")");
  const Device dev = x.device;
  double* ew = times ? &times->elementwise_ms : nullptr;
  double* gm = times ? &times->gemm_ms : nullptr;
  Matrix<float> dh(T, d, dev), dtmp(T, d, dev), ln(T, d, dev);
  // One (T, I) buffer: the recomputed GELU output, then (once dW2 has it) its gradient.
  Matrix<float> dact(T, I, dev);

  // The FFN block's backward, from d(out2) (the gradient of the FFN output after dropout) in dtmp;
  // ln = the FFN's input (a LayerNorm output); adds the input's gradient into dh.
  auto ffn_backward = [&](const Matrix<float>& xhat, const Norm& norm) {
    timed(dev, ew, [&] {
      drop_rows(dtmp.view(), o.p_hidden, mode, DropSite::ffn_output);
      dense::gelu_forward(cache.pre_gelu.view(), dact.view());  // act = GELU(pre)
      dense::layer_norm_apply(xhat.view(), norm.gamma.span(), norm.beta.span(), ln.view());
    });
    timed(dev, gm, [&] {
      // dW2 += dtmp^T act, db2 += column sums of dtmp; then dact = dtmp W2 overwrites act.
      dense::linear_backward(dact.view(), p.ffn_out.w.view(), dtmp.view(), {}, false, g.ffn_out.w.view(),
                             g.ffn_out.b.span());
      dense::linear_backward(dact.view(), p.ffn_out.w.view(), dtmp.view(), dact.view(), false, {}, {});
    });
    timed(dev, ew, [&] { dense::gelu_backward(cache.pre_gelu.view(), dact.view(), dact.view()); });
  };

  if (!o.pre_layer_norm) {
    // y = LN2(s2), s2 = h + drop(out2), h = LN1(s1), s1 = x + drop(attn)
    timed(dev, ew, [&] {
      dense::layer_norm_backward(cache.xhat2.view(), cache.rstd2.span(), p.ln2.gamma.span(), dy, dh.view(),
                                 false, g.ln2.gamma.span(), g.ln2.beta.span());
      dense::copy(dh.view(), dtmp.view());
    });
    ffn_backward(cache.xhat1, p.ln1);
    timed(dev, gm, [&] {
      dense::linear_backward(ln.view(), p.ffn_in.w.view(), dact.view(), dh.view(), true, g.ffn_in.w.view(),
                             g.ffn_in.b.span());
    });
    timed(dev, ew, [&] {
      dense::layer_norm_backward(cache.xhat1.view(), cache.rstd1.span(), p.ln1.gamma.span(), dh.view(), dx,
                                 false, g.ln1.gamma.span(), g.ln1.beta.span());
      dense::copy(dx, dtmp.view());
      drop_rows(dtmp.view(), o.p_hidden, mode, DropSite::attention_output);
    });
    // The FFN's buffers are done: freed before the attention backward, the step's memory peak.
    dact = Matrix<float>();
    ln = Matrix<float>();
    dh = Matrix<float>();
    attention_backward(o, p, batch, x, cache.attn, dtmp.view(), dx, true, g, mode, times);
  } else {
    // h = x + drop(Attn(LN1(x))), y = h + drop(FFN(LN2(h)))
    timed(dev, ew, [&] {
      dense::copy(dy, dh.view());
      dense::copy(dy, dtmp.view());
    });
    ffn_backward(cache.xhat2, p.ln2);
    Matrix<float> du(T, d, dev);
    timed(dev, gm, [&] {
      dense::linear_backward(ln.view(), p.ffn_in.w.view(), dact.view(), du.view(), false, g.ffn_in.w.view(),
                             g.ffn_in.b.span());
    });
    dact = Matrix<float>();  // freed before the attention backward, the step's memory peak
    timed(dev, ew, [&] {
      dense::layer_norm_backward(cache.xhat2.view(), cache.rstd2.span(), p.ln2.gamma.span(), du.view(),
                                 dh.view(), true, g.ln2.gamma.span(), g.ln2.beta.span());
      dense::copy(dh.view(), dtmp.view());
      drop_rows(dtmp.view(), o.p_hidden, mode, DropSite::attention_output);
      dense::layer_norm_apply(cache.xhat1.view(), p.ln1.gamma.span(), p.ln1.beta.span(), ln.view());
    });
    attention_backward(o, p, batch, ln.view(), cache.attn, dtmp.view(), du.view(), false, g, mode, times);
    timed(dev, ew, [&] {
      dense::copy(dh.view(), dx);
      dense::layer_norm_backward(cache.xhat1.view(), cache.rstd1.span(), p.ln1.gamma.span(), du.view(), dx,
                                 true, g.ln1.gamma.span(), g.ln1.beta.span());
    });
  }
}

}  // namespace diffuser::attention
