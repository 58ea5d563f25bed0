// The encoder stack: parameters, names, weights files, graphs per layer, and the forward.
#include <cmath>
#include <map>

#include <diffuser/attention/dense.hpp>
#include <diffuser/attention/model.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops_backward.hpp>
#include <diffuser/engine/random.hpp>

namespace diffuser::attention {

ModelParams::ModelParams(const ModelConfig& c)
    : word(c.vocab_size, c.hidden_size),
      position(c.max_position_embeddings, c.hidden_size),
      token_type(c.type_vocab_size, c.hidden_size),
      emb_ln(c.hidden_size),
      head_dense(c.hidden_size, c.hidden_size),
      head_out(c.num_labels, c.hidden_size) {
  const LayerShape s{c.hidden_size, c.num_attention_heads, c.intermediate_size};
  for (std::int64_t l = 0; l < c.num_hidden_layers; ++l) layers.emplace_back(s);
  if (c.pre_layer_norm) final_ln = Norm(c.hidden_size);
}

void visit(ModelParams& p, const ModelConfig& c, const TensorVisitor& f) {
  const std::int64_t d = c.hidden_size;
  f("embeddings.word_embeddings.weight", p.word.buffer().data(), {c.vocab_size, d});
  f("embeddings.position_embeddings.weight", p.position.buffer().data(), {c.max_position_embeddings, d});
  f("embeddings.token_type_embeddings.weight", p.token_type.buffer().data(), {c.type_vocab_size, d});
  f("embeddings.LayerNorm.weight", p.emb_ln.gamma.data(), {d});
  f("embeddings.LayerNorm.bias", p.emb_ln.beta.data(), {d});
  for (std::size_t l = 0; l < p.layers.size(); ++l) visit(p.layers[l], cat("encoder.layer.", l, "."), f);
  if (c.pre_layer_norm) {
    f("encoder.LayerNorm.weight", p.final_ln.gamma.data(), {d});
    f("encoder.LayerNorm.bias", p.final_ln.beta.data(), {d});
  }
  f("classifier.dense.weight", p.head_dense.w.buffer().data(), {d, d});
  f("classifier.dense.bias", p.head_dense.b.data(), {d});
  f("classifier.out_proj.weight", p.head_out.w.buffer().data(), {c.num_labels, d});
  f("classifier.out_proj.bias", p.head_out.b.data(), {c.num_labels});
}

std::int64_t parameter_count(ModelParams& p, const ModelConfig& c) {
  std::int64_t n = 0;
  visit(p, c, [&](const std::string&, float*, const std::vector<std::int64_t>& shape) {
    std::int64_t m = 1;
    for (auto s : shape) m *= s;
    n += m;
  });
  return n;
}

void zero(ModelParams& p, const ModelConfig& c) {
  visit(p, c, [](const std::string&, float* data, const std::vector<std::int64_t>& shape) {
    std::int64_t m = 1;
    for (auto s : shape) m *= s;
    std::fill(data, data + m, 0.0f);
  });
}

void init_model(ModelParams& p, const ModelConfig& c, std::uint64_t seed) {
  std::uint64_t sub = 0;
  visit(p, c, [&](const std::string& name, float* data, const std::vector<std::int64_t>& shape) {
    std::int64_t m = 1;
    for (auto s : shape) m *= s;
    const bool norm = name.find("LayerNorm") != std::string::npos;
    const bool bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    const std::uint64_t stream = rng::mix64(0x4D4F44454Cull + sub++);
    for (std::int64_t i = 0; i < m; ++i) {
      if (norm)
        data[i] = bias ? 0.0f : 1.0f;
      else if (bias)
        data[i] = 0.0f;
      else
        data[i] = static_cast<float>(c.initializer_range *
                                     rng::normal(seed, stream, static_cast<std::uint64_t>(i)));
    }
  });
  const std::int64_t d = c.hidden_size;
  std::fill(p.word.buffer().data() + c.pad_token_id * d, p.word.buffer().data() + (c.pad_token_id + 1) * d,
            0.0f);
  std::fill(p.position.buffer().data() + c.pad_token_id * d,
            p.position.buffer().data() + (c.pad_token_id + 1) * d, 0.0f);
}

ModelParams load_model(const std::filesystem::path& path, const ModelConfig& c) {
  const auto r = safetensors::Reader::open(path);
  ModelParams p(c);
  visit(p, c, [&](const std::string& name, float* data, const std::vector<std::int64_t>& shape) {
    r.read_f32_into(name, shape, data);
  });
  return p;
}

void save_model(const std::filesystem::path& path, ModelParams& p, const ModelConfig& c,
                safetensors::Writer::Storage storage) {
  safetensors::Writer w(storage);
  visit(p, c, [&](const std::string& name, float* data, const std::vector<std::int64_t>& shape) {
    w.add(name, data, shape);
  });
  w.set_metadata("format", "pt");
  w.set_metadata("producer", "diffuser");
  w.write(path);
}

ModelGraphs ModelGraphs::build(const ModelConfig& c, const std::vector<std::int64_t>& lengths,
                               const std::vector<std::uint8_t>& mask) {
  ModelGraphs g;
  std::map<std::string, int> index;
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string pattern = c.pattern_for_layer(l);
    auto it = index.find(pattern);
    if (it == index.end()) {
      GraphBatch b = GraphBatch::from_lengths(lengths, pattern, c.graph_seed);
      if (!mask.empty()) {
        DIFFUSER_CHECK(static_cast<std::int64_t>(mask.size()) == b.tokens(), "the padding mask has ",
                       mask.size(), " entries but the batch has ", b.tokens(), " tokens");
        b.mask = Buffer<std::uint8_t>::from_host(mask);
      }
      it = index.emplace(pattern, static_cast<int>(g.graphs.size())).first;
      g.graphs.push_back(std::move(b));
    }
    g.layer_graph.push_back(it->second);
  }
  return g;
}

std::vector<std::int32_t> position_ids(const ModelConfig& c, const std::vector<std::int32_t>& ids,
                                       const std::vector<std::int64_t>& offsets) {
  std::vector<std::int32_t> pos(ids.size());
  const auto pad = static_cast<std::int32_t>(c.pad_token_id);
  for (std::size_t b = 0; b + 1 < offsets.size(); ++b) {
    std::int32_t count = 0;
    for (auto i = offsets[b]; i < offsets[b + 1]; ++i) {
      const auto u = static_cast<std::size_t>(i);
      if (ids[u] == pad) {
        pos[u] = pad;
      } else {
        pos[u] = pad + 1 + count++;
        DIFFUSER_CHECK(pos[u] < c.max_position_embeddings, "sequence ", b, " has more than ",
                       c.max_position_embeddings - pad - 1, " real tokens (max_position_embeddings ",
                       c.max_position_embeddings, ")");
      }
    }
  }
  return pos;
}

Matrix<float> model_forward(const ModelConfig& c, const ModelParams& p, const ModelGraphs& graphs,
                            const std::vector<std::int32_t>& ids, const RunMode& mode, ModelCache* cache,
                            LayerTimes* times) {
  const GraphBatch& g0 = graphs.graphs.at(0);
  const std::int64_t T = g0.tokens(), d = c.hidden_size, B = g0.sequences();
  DIFFUSER_CHECK(static_cast<std::int64_t>(ids.size()) == T, "model: ", ids.size(),
                 " token ids for a batch of ", T, " tokens");
  for (std::size_t i = 0; i < ids.size(); ++i)
    DIFFUSER_CHECK(ids[i] >= 0 && ids[i] < c.vocab_size, "token ", i, " has id ", ids[i], " outside [0, ",
                   c.vocab_size, ")");
  const auto pos = position_ids(c, ids, g0.offsets);
  // Embeddings: word + position + token type 0, LayerNorm, dropout.
  Matrix<float> sum(T, d), x(T, d), xhat(T, d);
  Buffer<float> rstd(T);
  for (std::int64_t i = 0; i < T; ++i) {
    const float* w = p.word.buffer().data() + static_cast<std::int64_t>(ids[static_cast<std::size_t>(i)]) * d;
    const float* ps =
        p.position.buffer().data() + static_cast<std::int64_t>(pos[static_cast<std::size_t>(i)]) * d;
    const float* t = p.token_type.buffer().data();
    float* o = sum.view().row(i);
    for (std::int64_t k = 0; k < d; ++k) o[k] = w[k] + ps[k] + t[k];
  }
  const auto eps = static_cast<float>(c.layer_norm_eps);
  dense::layer_norm_forward(sum.view(), p.emb_ln.gamma.span(), p.emb_ln.beta.span(), eps, x.view(),
                            xhat.view(), rstd.span());
  const auto p_hidden = static_cast<float>(c.hidden_dropout_prob);
  auto drop = [&](MatrixView<float> m, DropSite site) {
    if (mode.training && p_hidden > 0.0f)
      ops::dropout(Tensor3View<float>{m.data, m.rows, 1, m.cols, m.cols, m.cols, m.device}, p_hidden,
                   mode.seed, dropout_stream(-1, site));
  };
  drop(x.view(), DropSite::embeddings);

  const LayerOptions o = LayerOptions::from_config(c);
  if (cache) {
    cache->ids = ids;
    cache->positions = pos;
    cache->emb_xhat = std::move(xhat);
    cache->emb_rstd = std::move(rstd);
    cache->hidden.clear();
    cache->layers.clear();
    cache->layers.resize(static_cast<std::size_t>(c.num_hidden_layers));
  }
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    RunMode m = mode;
    m.layer = l;
    Matrix<float> y(T, d);
    layer_forward(o, p.layers[static_cast<std::size_t>(l)], graphs.for_layer(l), x.view(), y.view(), m,
                  cache ? &cache->layers[static_cast<std::size_t>(l)] : nullptr, times);
    if (cache) cache->hidden.push_back(std::move(x));
    x = std::move(y);
  }
  if (c.pre_layer_norm) {
    Matrix<float> y(T, d), fx(T, d);
    Buffer<float> fr(T);
    dense::layer_norm_forward(x.view(), p.final_ln.gamma.span(), p.final_ln.beta.span(), eps, y.view(),
                              fx.view(), fr.span());
    if (cache) {
      cache->final_xhat = std::move(fx);
      cache->final_rstd = std::move(fr);
    }
    x = std::move(y);
  }
  // Head: first token of each sequence -> dropout -> dense -> tanh -> dropout -> out_proj.
  Matrix<float> first(B, d), act(B, d), logits(B, c.num_labels);
  for (std::int64_t b = 0; b < B; ++b)
    std::copy(x.view().row(g0.offsets[static_cast<std::size_t>(b)]),
              x.view().row(g0.offsets[static_cast<std::size_t>(b)]) + d, first.view().row(b));
  drop(first.view(), DropSite::head);
  dense::linear_forward(first.view(), p.head_dense.w.view(), p.head_dense.b.span(), act.view());
  dense::tanh_forward(act.view(), act.view());
  Matrix<float> act_d(B, d);
  dense::copy(act.view(), act_d.view());
  drop(act_d.view(), DropSite::head_out);
  dense::linear_forward(act_d.view(), p.head_out.w.view(), p.head_out.b.span(), logits.view());
  if (cache) {
    cache->sequence_output = std::move(x);
    cache->head_in = std::move(first);
    cache->head_act = std::move(act);
  }
  return logits;
}

double cross_entropy(MatrixView<const float> logits, const std::vector<std::int32_t>& labels,
                     MatrixView<float> dlogits) {
  DIFFUSER_CHECK(static_cast<std::int64_t>(labels.size()) == logits.rows, "cross_entropy: ", labels.size(),
                 " labels for ", logits.rows, " rows");
  double loss = 0.0;
  for (std::int64_t b = 0; b < logits.rows; ++b) {
    const float* z = logits.row(b);
    const auto y = labels[static_cast<std::size_t>(b)];
    DIFFUSER_CHECK(y >= 0 && y < logits.cols, "label ", y, " of sequence ", b, " is outside [0, ",
                   logits.cols, ")");
    double m = z[0];
    for (std::int64_t k = 1; k < logits.cols; ++k) m = std::max(m, static_cast<double>(z[k]));
    double s = 0.0;
    for (std::int64_t k = 0; k < logits.cols; ++k) s += std::exp(z[k] - m);
    loss += -(z[y] - m - std::log(s));
    if (dlogits.data)
      for (std::int64_t k = 0; k < logits.cols; ++k)
        dlogits.row(b)[k] = static_cast<float>((std::exp(z[k] - m) / s - (k == y ? 1.0 : 0.0)) /
                                               static_cast<double>(logits.rows));
  }
  return loss / static_cast<double>(logits.rows);
}

}  // namespace diffuser::attention
