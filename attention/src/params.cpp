// Layer parameters: names, initialisation, safetensors I/O.
#include <cmath>

#include <diffuser/attention/params.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/random.hpp>

namespace diffuser::attention {

LayerParams::LayerParams(const LayerShape& s, Device device)
    : qkv(3 * s.d_model, s.d_model, device),
      attn_out(s.d_model, s.d_model, device),
      ln1(s.d_model, device),
      ffn_in(s.intermediate, s.d_model, device),
      ffn_out(s.d_model, s.intermediate, device),
      ln2(s.d_model, device) {}

namespace {

Matrix<float> matrix_to(const Matrix<float>& m, Device d) {
  Matrix<float> r(m.rows(), m.cols(), d);
  if (m.buffer().size() > 0)
    device_copy(r.buffer().data(), d, m.buffer().data(), m.device(), m.buffer().bytes());
  return r;
}
Linear linear_to(const Linear& l, Device d) {
  Linear r;
  r.w = matrix_to(l.w, d);
  r.b = l.b.to(d);
  return r;
}
Norm norm_to(const Norm& n, Device d) {
  Norm r;
  r.gamma = n.gamma.to(d);
  r.beta = n.beta.to(d);
  return r;
}

// Every tensor's buffer, in visit() order.
template <class P, class F>
void for_each_buffer(P& p, F&& f) {
  f(p.qkv.w.buffer());
  f(p.qkv.b);
  f(p.attn_out.w.buffer());
  f(p.attn_out.b);
  f(p.ln1.gamma);
  f(p.ln1.beta);
  f(p.ffn_in.w.buffer());
  f(p.ffn_in.b);
  f(p.ffn_out.w.buffer());
  f(p.ffn_out.b);
  f(p.ln2.gamma);
  f(p.ln2.beta);
}

}  // namespace

LayerParams LayerParams::to(Device device) const {
  LayerParams r;
  r.qkv = linear_to(qkv, device);
  r.attn_out = linear_to(attn_out, device);
  r.ln1 = norm_to(ln1, device);
  r.ffn_in = linear_to(ffn_in, device);
  r.ffn_out = linear_to(ffn_out, device);
  r.ln2 = norm_to(ln2, device);
  return r;
}

LayerShape LayerParams::shape(std::int64_t heads) const {
  return {attn_out.out(), heads, ffn_in.out()};
}

void visit(LayerParams& p, const std::string& prefix, const TensorVisitor& f) {
  for_each_buffer(p, [&](const Buffer<float>& b) {
    DIFFUSER_CHECK(b.device() == Device::cpu, "layer parameters on ", device_name(b.device()),
                   " have no host pointers (copy them with LayerParams::to(Device::cpu) first)");
  });
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
  for_each_buffer(p, [](Buffer<float>& b) { b.zero(); });
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
