// Multi-head Diffuser self-attention: one (T, d) x (d, 3d) product gives the packed (T, 3, H, D)
// projection, which the diffusion reads as three strided (T, H, D) views (no copies); its
// gradients are written the same way into one packed (T, 3d) buffer for the backward product.
// Every buffer lives on the device of the input (and of the parameters and graph, checked).
#include <diffuser/attention/dense.hpp>
#include <diffuser/attention/layer.hpp>
#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/engine/sys.hpp>

namespace diffuser::attention {

namespace {

// Q, K or V (part 0, 1, 2) of a packed (T, 3d) projection.
template <class T>
Tensor3View<T> part(MatrixView<T> qkv, int which, std::int64_t heads) {
  const std::int64_t d = qkv.cols / 3;
  return {qkv.data + which * d, qkv.rows, heads, d / heads, qkv.cols, d / heads, qkv.device};
}

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

diffusion::DiffusionDropout diffusion_dropout(const LayerOptions& o, const RunMode& mode) {
  diffusion::DiffusionDropout d;
  if (!mode.training) return d;
  d.p_weights = o.p_attn_weights;
  d.p_hops = o.p_attn_hops;
  d.seed = mode.seed;
  d.stream = dropout_stream(mode.layer, DropSite::attention);
  return d;
}

void check_input(const LayerOptions& o, const LayerParams& p, const GraphBatch& batch,
                 MatrixView<const float> x, const char* what) {
  DIFFUSER_CHECK(x.cols == o.d_model, what, ": the input has ", x.cols, " features but d_model is ",
                 o.d_model);
  DIFFUSER_CHECK(x.rows == batch.tokens(), what, ": the input has ", x.rows,
                 " tokens but the batch graph has ", batch.tokens());
  DIFFUSER_CHECK(p.device() == x.device, what, ": the input is on ", device_name(x.device),
                 " but the parameters are on ", device_name(p.device()),
                 " (move them once with LayerParams::to)");
  DIFFUSER_CHECK(batch.device() == x.device, what, ": the input is on ", device_name(x.device),
                 " but the batch graph is on ", device_name(batch.device()),
                 " (move it once with GraphBatch::to)");
}

}  // namespace

std::uint64_t dropout_stream(int layer, DropSite site) {
  return rng::mix64((static_cast<std::uint64_t>(layer + 2) << 8) | static_cast<std::uint64_t>(site));
}

LayerOptions LayerOptions::from_config(const ModelConfig& c) {
  LayerOptions o;
  o.d_model = c.hidden_size;
  o.heads = c.num_attention_heads;
  o.intermediate = c.intermediate_size;
  o.layer_norm_eps = static_cast<float>(c.layer_norm_eps);
  o.pre_layer_norm = c.pre_layer_norm;
  o.coefficients = c.coefficients();
  o.p_hidden = static_cast<float>(c.hidden_dropout_prob);
  o.p_attn_weights = static_cast<float>(c.attention_probs_dropout_prob);
  o.p_attn_hops = static_cast<float>(c.hop_dropout());
  return o;
}

std::int64_t AttentionCache::bytes() const {
  std::int64_t b = static_cast<std::int64_t>(qkv.buffer().bytes() + z.buffer().bytes());
  for (const auto& h : hops) b += static_cast<std::int64_t>(h.buffer().bytes());
  return b + static_cast<std::int64_t>(weights.buffer().bytes());
}

void attention_forward(const LayerOptions& o, const LayerParams& p, const GraphBatch& batch,
                       MatrixView<const float> x, MatrixView<float> out, const RunMode& mode,
                       AttentionCache* cache, LayerTimes* times) {
  check_input(o, p, batch, x, "attention");
  DIFFUSER_CHECK(out.device == x.device, "attention: the output is on ", device_name(out.device),
                 " but the input is on ", device_name(x.device));
  const Device dev = x.device;
  const std::int64_t T = x.rows, d = o.d_model, H = o.heads, D = o.head_dim();
  Matrix<float> qkv(T, 3 * d, dev);
  timed(dev, times ? &times->gemm_ms : nullptr,
        [&] { dense::linear_forward(x, p.qkv.w.view(), p.qkv.b.span(), qkv.view()); });
  Matrix<float> z(T, d, dev);
  timed(dev, times ? &times->graph_forward_ms : nullptr, [&] {
    const int K = diffusion::hop_plan(o.coefficients).hops();
    const bool keep = cache && o.hop_memory == diffusion::HopMemory::keep && K >= 1;
    Tensor3<float> scratch;
    diffusion::ForwardKeep kept;
    if (keep) {  // the backward then recomputes nothing: the weights and hop states live in the cache
      cache->weights = Matrix<float>(batch.graph.num_edges(), H, dev);
      kept.weights = cache->weights.view();
      cache->hops.clear();
      for (int kk = 1; kk < K; ++kk) kept.hops.push_back(cache->hops.emplace_back(T, H, D, dev).view());
    } else if (K >= 2) {
      scratch = Tensor3<float>(T, H, D, dev);
    }
    const MatrixView<const float> qv = qkv.view();
    diffusion::diffuse_forward(batch.graph, part(qv, 0, H), part(qv, 1, H), part(qv, 2, H), batch.node_mask(),
                               o.coefficients, diffusion_dropout(o, mode), dense::as_heads(z.view(), H),
                               scratch.view(), kept);
  });
  timed(dev, times ? &times->gemm_ms : nullptr,
        [&] { dense::linear_forward(z.view(), p.attn_out.w.view(), p.attn_out.b.span(), out); });
  if (cache) {
    cache->qkv = std::move(qkv);
    cache->z = std::move(z);
  }
}

void attention_backward(const LayerOptions& o, const LayerParams& p, const GraphBatch& batch,
                        MatrixView<const float> x, const AttentionCache& cache, MatrixView<const float> dout,
                        MatrixView<float> dx, bool accumulate_dx, LayerParams& g, const RunMode& mode,
                        LayerTimes* times) {
  check_input(o, p, batch, x, "attention backward");
  const Device dev = x.device;
  const std::int64_t T = x.rows, d = o.d_model, H = o.heads;
  DIFFUSER_CHECK(cache.qkv.rows() == T && cache.z.rows() == T, "attention backward: the cache holds ",
                 cache.qkv.rows(), " tokens but the input has ", T, " (was the forward run with a cache?)");
  DIFFUSER_CHECK(cache.qkv.device() == dev && g.device() == dev && dout.device == dev && dx.device == dev,
                 "attention backward: the cache, gradients, dout and dx must be on the input's device (",
                 device_name(dev), ")");
  Matrix<float> dz(T, d, dev);
  timed(dev, times ? &times->gemm_ms : nullptr, [&] {
    dense::linear_backward(cache.z.view(), p.attn_out.w.view(), dout, dz.view(), false, g.attn_out.w.view(),
                           g.attn_out.b.span());
  });
  Matrix<float> dqkv(T, 3 * d, dev);
  diffusion::BackwardTimes bt;
  timed(dev, times ? &times->graph_backward_ms : nullptr, [&] {
    diffusion::BackwardOptions bo;
    bo.dropout = diffusion_dropout(o, mode);
    bo.memory = o.hop_memory;
    bo.head_groups = attention_head_groups(o, T, batch.graph.num_edges());
    if (o.hop_memory == diffusion::HopMemory::keep) {
      bo.hop_inputs = diffusion::views_of(cache.hops);
      bo.weights = cache.weights.view();
    }
    const MatrixView<const float> qv = cache.qkv.view();
    const MatrixView<float> dv = dqkv.view();
    diffusion::diffuse_backward(batch.graph, batch.reverse, part(qv, 0, H), part(qv, 1, H), part(qv, 2, H),
                                batch.node_mask(), o.coefficients,
                                dense::as_heads(MatrixView<const float>(dz.view()), H), part(dv, 0, H),
                                part(dv, 1, H), part(dv, 2, H), bo, times ? &bt : nullptr);
  });
  if (times) {
    times->diffusion.weights_ms += bt.weights_ms;
    times->diffusion.hop_forward_ms += bt.hop_forward_ms;
    times->diffusion.hop_backward_ms += bt.hop_backward_ms;
    times->diffusion.scores_ms += bt.scores_ms;
  }
  dz = Matrix<float>();
  timed(dev, times ? &times->gemm_ms : nullptr, [&] {
    dense::linear_backward(x, p.qkv.w.view(), dqkv.view(), dx, accumulate_dx, g.qkv.w.view(), g.qkv.b.span());
  });
}

}  // namespace diffuser::attention
