#include <cmath>
#include <sstream>

#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/npy.hpp>
#include <diffuser/engine/sys.hpp>

#include "cli.hpp"
#include "layer_io.hpp"

namespace diffuser::cli {

namespace fs = std::filesystem;

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

diffusion::HopMemory parse_hop_memory(const std::string& text) {
  if (text == "store") return diffusion::HopMemory::store;
  if (text == "recompute") return diffusion::HopMemory::recompute;
  if (text == "keep") return diffusion::HopMemory::keep;
  throw UsageError(cat("--hop-memory must be store, recompute or keep, got '", text, "'"));
}

std::vector<std::int64_t> parse_lengths(const std::string& text) {
  if (text.empty()) throw UsageError("--lengths needs at least one length");
  std::vector<std::int64_t> out;
  std::int64_t total = 0;
  for (const auto item : split_list(text, "--lengths")) {
    const auto v = parse_int(item, cat("--lengths item ", out.size()));
    if (v <= 0) throw UsageError(cat("--lengths: sequence lengths must be > 0, got ", v));
    if (v > kMaxNodes - total) throw UsageError(cat("--lengths add up to more than ", kMaxNodes, " tokens"));
    total += v;
    out.push_back(v);
  }
  return out;
}

void require_layer_memory(const attention::ModelConfig& c, const fs::path& config, double tokens,
                          int param_copies, bool model) {
  const double params = model ? c.model_parameters() : c.layer_parameters();
  const double activations =
      tokens * (8.0 * static_cast<double>(c.hidden_size) + 2.0 * static_cast<double>(c.intermediate_size));
  require_memory(
      4.0 * (param_copies * params + activations),
      cat(config.string(), ": hidden_size ", c.hidden_size, ", intermediate_size ", c.intermediate_size,
          model ? cat(", ", c.num_hidden_layers, " layers, vocab_size ", c.vocab_size) : std::string(), ": ",
          param_copies, param_copies == 1 ? " copy" : " copies", " of the ",
          static_cast<std::int64_t>(std::min(params, 9e18)), model ? " model" : " layer", " parameters",
          tokens > 0 ? cat(" and the activations of ", static_cast<std::int64_t>(tokens), " tokens")
                     : std::string()));
}

namespace {
void check_finite(const Buffer<float>& b, const fs::path& p) {
  for (std::int64_t i = 0; i < b.size(); ++i)
    if (!std::isfinite(b[i])) throw Error(cat(p.string(), ": element ", i, " is not finite (NaN or Inf)"));
}
}  // namespace

LayerInput load_layer_input(const fs::path& x_path, const std::optional<fs::path>& mask_path,
                            const std::optional<std::vector<std::int64_t>>& lengths, std::int64_t d_model) {
  LayerInput in;
  in.path = x_path;
  const npy::Header h = npy::read_header(x_path);
  if (h.dtype != npy::DType::f4 && h.dtype != npy::DType::f8)
    throw Error(cat(x_path.string(), ": X must be float32 or float64, got ", npy::dtype_descr(h.dtype)));
  if (h.shape.size() != 2 && h.shape.size() != 3)
    throw Error(
        cat(x_path.string(), ": X must be (N, d_model) or (B, N, d_model), got shape ", h.shape_string()));
  for (auto s : h.shape)
    if (s <= 0) throw Error(cat(x_path.string(), ": X has an empty dimension ", h.shape_string()));
  if (h.shape.back() != d_model)
    throw Error(cat(x_path.string(), ": X has ", h.shape.back(), " features but the config's hidden_size is ",
                    d_model));
  in.shape = h.shape;
  in.d = d_model;
  in.tokens = h.numel() / d_model;
  if (h.shape.size() == 3) {
    if (lengths)
      throw UsageError("--lengths applies to a 2-D X (T, d_model); a 3-D X is a padded (B, N, d) batch");
    in.lengths.assign(static_cast<std::size_t>(h.shape[0]), h.shape[1]);
  } else if (lengths) {
    std::int64_t sum = 0;
    for (auto l : *lengths) sum += l;
    if (sum != in.tokens)
      throw Error(cat("--lengths add up to ", sum, " tokens but ", x_path.string(), " has ", in.tokens));
    in.lengths = *lengths;
  } else {
    in.lengths = {in.tokens};
  }
  in.x = npy::load_f32(x_path);
  check_finite(in.x, x_path);
  if (mask_path) {
    npy::Header mh;
    const std::vector<std::int64_t> m = npy::load_i64(*mask_path, &mh);
    const bool fits =
        static_cast<std::int64_t>(m.size()) == in.tokens &&
        (mh.shape.size() == 1 || (mh.shape.size() == 2 && h.shape.size() == 3 && mh.shape[0] == h.shape[0]));
    if (!fits)
      throw Error(cat(mask_path->string(), ": the mask has shape ", mh.shape_string(), " but X ",
                      h.shape_string(), " needs (", in.tokens, ",)",
                      h.shape.size() == 3 ? cat(" or (", h.shape[0], ", ", h.shape[1], ")") : ""));
    in.mask.resize(m.size());
    for (std::size_t i = 0; i < m.size(); ++i) in.mask[i] = m[i] != 0 ? 1 : 0;
  }
  return in;
}

Buffer<float> load_like(const fs::path& path, const std::vector<std::int64_t>& shape, const char* what) {
  npy::Header h = npy::read_header(path);
  if (h.dtype != npy::DType::f4 && h.dtype != npy::DType::f8)
    throw Error(
        cat(path.string(), ": ", what, " must be float32 or float64, got ", npy::dtype_descr(h.dtype)));
  if (h.shape != shape)
    throw Error(cat(path.string(), ": ", what, " has shape ", h.shape_string(), " but ", shape_text(shape),
                    " is needed"));
  Buffer<float> b = npy::load_f32(path);
  check_finite(b, path);
  return b;
}

}  // namespace diffuser::cli
