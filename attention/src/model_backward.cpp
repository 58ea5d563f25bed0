// The backward of the encoder stack: head, layers in reverse, embeddings. Embedding gradients are
// added token by token in order (deterministic; a few T x d additions).
#include <diffuser/attention/dense.hpp>
#include <diffuser/attention/model.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops_backward.hpp>

namespace diffuser::attention {

void model_backward(const ModelConfig& c, const ModelParams& p, const ModelGraphs& graphs,
                    const ModelCache& cache, MatrixView<const float> dlogits, ModelParams& g,
                    const RunMode& mode, LayerTimes* times) {
  const GraphBatch& g0 = graphs.graphs.at(0);
  const std::int64_t T = g0.tokens(), d = c.hidden_size, B = g0.sequences();
  DIFFUSER_CHECK(dlogits.rows == B && dlogits.cols == c.num_labels, "model backward: dlogits is (",
                 dlogits.rows, ", ", dlogits.cols, ") but (sequences, labels) = (", B, ", ", c.num_labels,
                 ")");
  DIFFUSER_CHECK(
      cache.sequence_output.rows() == T && static_cast<int>(cache.layers.size()) == c.num_hidden_layers,
      "model backward: the cache does not belong to this batch (was the forward run with a cache?)");
  const auto p_hidden = static_cast<float>(c.hidden_dropout_prob);
  auto drop = [&](MatrixView<float> m, DropSite site) {
    if (mode.training && p_hidden > 0.0f)
      ops::dropout(Tensor3View<float>{m.data, m.rows, 1, m.cols, m.cols, m.cols, m.device}, p_hidden,
                   mode.seed, dropout_stream(-1, site));
  };
  // Head.
  Matrix<float> act_d(B, d), dact(B, d), dfirst(B, d);
  dense::copy(cache.head_act.view(), act_d.view());
  drop(act_d.view(), DropSite::head_out);
  dense::linear_backward(act_d.view(), p.head_out.w.view(), dlogits, dact.view(), false, g.head_out.w.view(),
                         g.head_out.b.span());
  drop(dact.view(), DropSite::head_out);
  dense::tanh_backward(cache.head_act.view(), dact.view(), dact.view());
  dense::linear_backward(cache.head_in.view(), p.head_dense.w.view(), dact.view(), dfirst.view(), false,
                         g.head_dense.w.view(), g.head_dense.b.span());
  drop(dfirst.view(), DropSite::head);
  Matrix<float> dx(T, d);
  dx.buffer().zero();
  for (std::int64_t b = 0; b < B; ++b)
    std::copy(dfirst.view().row(b), dfirst.view().row(b) + d,
              dx.view().row(g0.offsets[static_cast<std::size_t>(b)]));
  if (c.pre_layer_norm) {
    Matrix<float> t(T, d);
    dense::layer_norm_backward(cache.final_xhat.view(), cache.final_rstd.span(), p.final_ln.gamma.span(),
                               dx.view(), t.view(), false, g.final_ln.gamma.span(), g.final_ln.beta.span());
    dx = std::move(t);
  }
  // Layers in reverse.
  const LayerOptions o = LayerOptions::from_config(c);
  for (int l = static_cast<int>(c.num_hidden_layers) - 1; l >= 0; --l) {
    RunMode m = mode;
    m.layer = l;
    const auto ul = static_cast<std::size_t>(l);
    Matrix<float> dprev(T, d);
    layer_backward(o, p.layers[ul], graphs.for_layer(l), cache.hidden[ul].view(), cache.layers[ul], dx.view(),
                   dprev.view(), g.layers[ul], m, times);
    dx = std::move(dprev);
  }
  // Embeddings.
  drop(dx.view(), DropSite::embeddings);
  Matrix<float> dsum(T, d);
  dense::layer_norm_backward(cache.emb_xhat.view(), cache.emb_rstd.span(), p.emb_ln.gamma.span(), dx.view(),
                             dsum.view(), false, g.emb_ln.gamma.span(), g.emb_ln.beta.span());
  float* gw = g.word.buffer().data();
  float* gp = g.position.buffer().data();
  float* gt = g.token_type.buffer().data();
  for (std::int64_t i = 0; i < T; ++i) {
    const float* r = dsum.view().row(i);
    float* w = gw + static_cast<std::int64_t>(cache.ids[static_cast<std::size_t>(i)]) * d;
    float* ps = gp + static_cast<std::int64_t>(cache.positions[static_cast<std::size_t>(i)]) * d;
    for (std::int64_t k = 0; k < d; ++k) {
      w[k] += r[k];
      ps[k] += r[k];
      gt[k] += r[k];
    }
  }
}

}  // namespace diffuser::attention
