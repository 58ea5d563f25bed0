// Parameters of the encoder layer (and their gradients, the same structure), named as in
// Hugging Face's RoBERTa so that safetensors files map one to one onto PyTorch checkpoints.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <diffuser/attention/safetensors.hpp>
#include <diffuser/engine/buffer.hpp>

namespace diffuser::attention {

// nn.Linear: w (out, in) row-major, b (out).
struct Linear {
  Matrix<float> w;
  Buffer<float> b;
  Linear() = default;
  Linear(std::int64_t out, std::int64_t in, Device device = Device::cpu)
      : w(out, in, device), b(out, device) {}
  std::int64_t out() const { return w.rows(); }
  std::int64_t in() const { return w.cols(); }
};

// nn.LayerNorm's weight (gamma) and bias (beta).
struct Norm {
  Buffer<float> gamma, beta;
  Norm() = default;
  explicit Norm(std::int64_t n, Device device = Device::cpu) : gamma(n, device), beta(n, device) {}
};

struct LayerShape {
  std::int64_t d_model = 0, heads = 0, intermediate = 0;
};

struct LayerParams {
  Linear qkv;       // (3 d, d): attention.self.{query,key,value} stacked (one product for all three)
  Linear attn_out;  // (d, d):   attention.output.dense
  Norm ln1;         //           attention.output.LayerNorm
  Linear ffn_in;    // (I, d):   intermediate.dense
  Linear ffn_out;   // (d, I):   output.dense
  Norm ln2;         //           output.LayerNorm

  LayerParams() = default;
  explicit LayerParams(const LayerShape& s, Device device = Device::cpu);  // uninitialised values
  LayerShape shape(std::int64_t heads) const;
  // Where the tensors live (all on one device), and a copy of all of them on another device: the
  // layer runs on the device of its parameters, which are moved there once.
  Device device() const { return qkv.w.device(); }
  LayerParams to(Device device) const;
};

// Calls f(name, data, shape) for every tensor, names prefixed by `prefix` ("" or
// "encoder.layer.3."): attention.self.query.weight (d, d), ... output.LayerNorm.bias (d,).
// Host pointers: the parameters must be on the CPU (Error otherwise).
using TensorVisitor =
    std::function<void(const std::string& name, float* data, const std::vector<std::int64_t>& shape)>;
void visit(LayerParams& p, const std::string& prefix, const TensorVisitor& f);
std::int64_t parameter_count(const LayerParams& p);

// Sets every value to 0 (gradients before accumulation), on any device.
void zero(LayerParams& p);
// As the authors' _init_weights: linear weights N(0, range) (rng::normal from seed and `stream`),
// biases 0, LayerNorm gamma 1 and beta 0.
void init_layer(LayerParams& p, double range, std::uint64_t seed, std::uint64_t stream);

// Reads every tensor of `p` from a safetensors file (shapes must match; errors name the tensor).
void read_layer(const safetensors::Reader& r, LayerParams& p, const std::string& prefix);
void write_layer(safetensors::Writer& w, LayerParams& p, const std::string& prefix);

// The prefix under which a file holds the layer: "" when it holds "attention.self.query.weight",
// else "encoder.layer.I." (or with a "diffuser." / "roberta." model prefix). Throws Error listing
// what the file holds when none matches.
std::string find_layer_prefix(const safetensors::Reader& r, int layer);

}  // namespace diffuser::attention
