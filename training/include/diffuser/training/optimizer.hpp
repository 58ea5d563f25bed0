// AdamW (decoupled weight decay, bias correction; PyTorch's torch.optim.AdamW step for step) over
// the model's tensors, and clipping by the global gradient norm. Moments are float32 tensors of the
// model's shapes, so a checkpoint stores them under the weights' names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <diffuser/attention/config.hpp>
#include <diffuser/attention/model.hpp>

namespace diffuser::training {

// One tensor of a ModelParams (host memory), in visit() order.
struct NamedTensor {
  std::string name;
  float* data = nullptr;
  std::int64_t size = 0;
  std::vector<std::int64_t> shape;
};
std::vector<NamedTensor> named_tensors(attention::ModelParams& p, const attention::ModelConfig& c);

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.01;
};

// Weight decay applies to the weights of the linear and embedding layers, not to biases or
// LayerNorm parameters (the usual practice for Transformers; Hugging Face's no_decay list).
bool decays(const std::string& name);

// One AdamW step of optimizer step t (1-based) on n values, in float32 as PyTorch computes it:
//   p *= 1 - lr wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
void adamw_update(float* param, const float* grad, float* m, float* v, std::int64_t n, std::int64_t t,
                  double lr, const AdamWOptions& o, bool decay);

class AdamW {
 public:
  AdamW(const attention::ModelConfig& c, const AdamWOptions& o);  // zero moments, t = 0
  // Advances t and updates every tensor of p from its gradient in g.
  void step(attention::ModelParams& p, attention::ModelParams& g, double lr);
  std::int64_t t() const { return t_; }
  void set_t(std::int64_t t) { t_ = t; }
  const AdamWOptions& options() const { return o_; }
  attention::ModelParams& exp_avg() { return m_; }
  attention::ModelParams& exp_avg_sq() { return v_; }

 private:
  attention::ModelConfig c_;
  AdamWOptions o_;
  attention::ModelParams m_, v_;
  std::int64_t t_ = 0;
};

// sqrt of the sum of squares of every gradient value (double sums, tensors in visit() order).
double global_norm(attention::ModelParams& g, const attention::ModelConfig& c);
// As torch.nn.utils.clip_grad_norm_: when the global norm exceeds max_norm, every gradient is
// multiplied by max_norm / (norm + 1e-6). max_norm <= 0 disables. Returns the norm before clipping.
double clip_global_norm(attention::ModelParams& g, const attention::ModelConfig& c, double max_norm);
// Multiplies every gradient value by s.
void scale(attention::ModelParams& g, const attention::ModelConfig& c, float s);

}  // namespace diffuser::training
