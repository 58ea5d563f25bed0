// The file side of `diffuser layer`: the input X (N, d), (B, N, d) or (T, d) with --lengths, the
// padding mask, and the batch graph built from the config's pattern for those shapes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <diffuser/attention/batch.hpp>
#include <diffuser/attention/config.hpp>
#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/engine/buffer.hpp>

namespace diffuser::cli {

struct LayerInput {
  std::filesystem::path path;
  Buffer<float> x;                  // (T, d) row-major, T = all tokens
  std::vector<std::int64_t> shape;  // as in the file: (N, d) or (B, N, d)
  std::int64_t tokens = 0, d = 0;
  std::vector<std::int64_t> lengths;  // sequences (block-diagonal); B x N for a 3-D input
  std::vector<std::uint8_t> mask;     // (T) or empty
};

// "100,200,50" -> {100, 200, 50}; UsageError for an empty list or a value <= 0.
std::vector<std::int64_t> parse_lengths(const std::string& text);

// Loads X and the optional mask ((N,), (B, N) or (T,), nonzero = real token) and checks them
// against d_model and --lengths (which must add up to the token count of a 2-D X). Errors name the file.
LayerInput load_layer_input(const std::filesystem::path& x_path,
                            const std::optional<std::filesystem::path>& mask_path,
                            const std::optional<std::vector<std::int64_t>>& lengths, std::int64_t d_model);

// Loads a gradient array shaped exactly like `shape` (Error naming the file otherwise).
Buffer<float> load_like(const std::filesystem::path& path, const std::vector<std::int64_t>& shape,
                        const char* what);

// The memory budget of a layer run, checked before anything is allocated: `param_copies` float
// copies of one layer's parameters (the whole model's with `model`) plus the activations of
// `tokens` tokens (about 8 d_model + 2 intermediate floats each). Throws Error naming the config
// file and the sizes that make the job too large.
void require_layer_memory(const attention::ModelConfig& c, const std::filesystem::path& config, double tokens,
                          int param_copies, bool model = false);

// "(2, 512, 256)"
std::string shape_text(const std::vector<std::int64_t>& shape);

// --hop-memory store|recompute|keep (UsageError otherwise).
diffusion::HopMemory parse_hop_memory(const std::string& text);

}  // namespace diffuser::cli
