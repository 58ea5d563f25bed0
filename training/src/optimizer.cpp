// AdamW and gradient clipping on host tensors. The parameter walk goes through visit(), which
// hands out host pointers (parameters on the GPU need a device kernel for this update first).
#include <cmath>

#include <diffuser/engine/error.hpp>
#include <diffuser/training/optimizer.hpp>

namespace diffuser::training {

using attention::ModelConfig;
using attention::ModelParams;

std::vector<NamedTensor> named_tensors(ModelParams& p, const ModelConfig& c) {
  std::vector<NamedTensor> out;
  attention::visit(p, c, [&](const std::string& name, float* data, const std::vector<std::int64_t>& shape) {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    out.push_back({name, data, n, shape});
  });
  return out;
}

bool decays(const std::string& name) {
  const bool bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
  return !bias && name.find("LayerNorm") == std::string::npos;
}

void adamw_update(float* param, const float* grad, float* m, float* v, std::int64_t n, std::int64_t t,
                  double lr, const AdamWOptions& o, bool decay) {
  DIFFUSER_CHECK(t >= 1, "adamw: the step count starts at 1, got ", t);
  const auto keep = static_cast<float>(1.0 - lr * (decay ? o.weight_decay : 0.0));
  const auto b1 = static_cast<float>(o.beta1), b2 = static_cast<float>(o.beta2);
  const auto c1 = static_cast<float>(1.0 - o.beta1), c2 = static_cast<float>(1.0 - o.beta2);
  const double bc1 = 1.0 - std::pow(o.beta1, static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(o.beta2, static_cast<double>(t));
  const auto step_size = static_cast<float>(lr / bc1);
  const auto bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  const auto eps = static_cast<float>(o.eps);
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    param[i] *= keep;
    m[i] = m[i] * b1 + g * c1;
    v[i] = v[i] * b2 + g * g * c2;
    const float denom = std::sqrt(v[i]) / bc2_sqrt + eps;
    param[i] -= step_size * (m[i] / denom);
  }
}

AdamW::AdamW(const ModelConfig& c, const AdamWOptions& o) : c_(c), o_(o), m_(c), v_(c) {
  attention::zero(m_, c_);
  attention::zero(v_, c_);
}

void AdamW::step(ModelParams& p, ModelParams& g, double lr) {
  ++t_;
  const auto pt = named_tensors(p, c_), gt = named_tensors(g, c_), mt = named_tensors(m_, c_),
             vt = named_tensors(v_, c_);
  for (std::size_t i = 0; i < pt.size(); ++i)
    adamw_update(pt[i].data, gt[i].data, mt[i].data, vt[i].data, pt[i].size, t_, lr, o_, decays(pt[i].name));
}

double global_norm(ModelParams& g, const ModelConfig& c) {
  double s = 0.0;
  for (const auto& t : named_tensors(g, c)) {
    double ts = 0.0;
    for (std::int64_t i = 0; i < t.size; ++i) ts += static_cast<double>(t.data[i]) * t.data[i];
    s += ts;
  }
  return std::sqrt(s);
}

void scale(ModelParams& g, const ModelConfig& c, float s) {
  for (const auto& t : named_tensors(g, c))
    for (std::int64_t i = 0; i < t.size; ++i) t.data[i] *= s;
}

double clip_global_norm(ModelParams& g, const ModelConfig& c, double max_norm) {
  const double norm = global_norm(g, c);
  if (max_norm > 0.0) {
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) scale(g, c, static_cast<float>(coef));
  }
  return norm;
}

}  // namespace diffuser::training
