// Layer parameters: names, initialisation, safetensors I/O.
#include <cmath>

#include <diffuser/attention/params.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/random.hpp>

namespace diffuser::attention {

LayerParams::LayerParams(const LayerShape& s)
    : qkv(3 * s.d_model, s.d_model),
      attn_out(s.d_model, s.d_model),
      ln1(s.d_model),
      ffn_in(s.intermediate, s.d_model),
      ffn_out(s.d_model, s.intermediate),
      ln2(s.d_model) {}

LayerShape LayerParams::shape(std::int64_t heads) const {
  return {attn_out.out(), heads, ffn_in.out()};
}

void visit(LayerParams& p, const std::string& prefix, const TensorVisitor& f) {
  const std::int64_t d = p.attn_out.out(), I = p.ffn_in.out();
  const char* qkv_names[3] = {"query", "key", "value"};
  for (int s = 0; s < 3; ++s) {
    const std::string base = prefix + "attention.self." + qkv_names[s];
    f(base + ".weight", p.qkv.w.buffer().data() + s * d * d, {d, d});
    f(base + ".bias", p.qkv.b.data() + s * d, {d});
  }
  auto linear = [&](const std::string& name, Linear& l) {
    f(prefix + name + ".weight", l.w.buffer().data(), {l.out(), l.in()});
    f(prefix + name + ".bias", l.b.data(), {l.out()});
  };
  auto norm = [&](const std::string& name, Norm& n) {
    f(prefix + name + ".weight", n.gamma.data(), {n.gamma.size()});
    f(prefix + name + ".bias", n.beta.data(), {n.beta.size()});
  };
  linear("attention.output.dense", p.attn_out);
  norm("attention.output.LayerNorm", p.ln1);
  linear("intermediate.dense", p.ffn_in);
  linear("output.dense", p.ffn_out);
  norm("output.LayerNorm", p.ln2);
  (void)I;
}

std::int64_t parameter_count(const LayerParams& p) {
  return p.qkv.w.buffer().size() + p.qkv.b.size() + p.attn_out.w.buffer().size() + p.attn_out.b.size() +
         2 * p.ln1.gamma.size() + p.ffn_in.w.buffer().size() + p.ffn_in.b.size() +
         p.ffn_out.w.buffer().size() + p.ffn_out.b.size() + 2 * p.ln2.gamma.size();
}

void zero(LayerParams& p) {
  visit(p, "", [](const std::string&, float* data, const std::vector<std::int64_t>& shape) {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    std::fill(data, data + n, 0.0f);
  });
}

void init_layer(LayerParams& p, double range, std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t sub = 0;
  visit(p, "", [&](const std::string& name, float* data, const std::vector<std::int64_t>& shape) {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    const bool is_norm = name.find("LayerNorm") != std::string::npos;
    const bool is_bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    const std::uint64_t st = rng::mix64(stream * 64 + sub++);
    for (std::int64_t i = 0; i < n; ++i) {
      if (is_norm)
        data[i] = is_bias ? 0.0f : 1.0f;
      else if (is_bias)
        data[i] = 0.0f;
      else
        data[i] = static_cast<float>(range * rng::normal(seed, st, static_cast<std::uint64_t>(i)));
    }
  });
}

void read_layer(const safetensors::Reader& r, LayerParams& p, const std::string& prefix) {
  visit(p, prefix, [&](const std::string& name, float* data, const std::vector<std::int64_t>& shape) {
    r.read_f32_into(name, shape, data);
  });
}

void write_layer(safetensors::Writer& w, LayerParams& p, const std::string& prefix) {
  visit(p, prefix, [&](const std::string& name, float* data, const std::vector<std::int64_t>& shape) {
    w.add(name, data, shape);
  });
}

std::string find_layer_prefix(const safetensors::Reader& r, int layer) {
  const std::string key = "attention.self.query.weight";
  const std::string candidates[] = {"", cat("encoder.layer.", layer, "."),
                                    cat("diffuser.encoder.layer.", layer, "."),
                                    cat("roberta.encoder.layer.", layer, ".")};
  for (const auto& c : candidates)
    if (r.contains(c + key)) return c;
  std::string names;
  for (std::size_t i = 0; i < r.tensors().size() && i < 4; ++i)
    names += (i ? ", " : "") + r.tensors()[i].name;
  throw Error(cat(r.path().string(), ": no encoder layer ", layer, " in the file (looked for '", key,
                  "' and '", candidates[1], key, "'; the file has ", r.tensors().size(), " tensors",
                  r.tensors().empty() ? "" : ": ", names, r.tensors().size() > 4 ? ", ..." : "", ")"));
}

}  // namespace diffuser::attention
