// The file side of `diffuser attend`: checks the .npy headers of Q, K, V and the mask before
// anything is loaded, loads them (float64 converted to float32) and rejects NaN/Inf by element.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <diffuser/diffusion/coefficients.hpp>
#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/npy.hpp>

namespace diffuser::cli {

struct AttendInputs {
  std::filesystem::path q, k, v;
  std::optional<std::filesystem::path> mask;
  npy::Header hq, hk, hv, hmask;
  std::int64_t n = 0, h = 0, d = 0;
};

// Reads only the headers. Throws Error naming the file for a dtype other than float32/float64
// (Q, K, V) or integer/bool (mask), a rank other than 3 (Q, K, V) or 1 (mask), an empty
// dimension, or shapes that disagree.
AttendInputs inspect_inputs(std::filesystem::path q, std::filesystem::path k, std::filesystem::path v,
                            std::optional<std::filesystem::path> mask);

// Loads one (N, H, D) array as float32 on the CPU; throws Error naming the file and the first
// NaN or Inf element.
Buffer<float> load_features(const std::filesystem::path& path, const AttendInputs& in);

// Loads the mask as one byte per token: 1 where the file holds a nonzero value (a real token).
Buffer<std::uint8_t> load_mask(const AttendInputs& in);

// "q.npy (64, 2, 8) <f4"
std::string describe_input(const std::filesystem::path& path, const npy::Header& h);

// The coefficients from --hops, --alpha, --theta, --heat (UsageError for a bad combination).
diffusion::Coefficients coefficients_from(std::optional<std::int64_t> hops, std::optional<double> alpha,
                                          std::optional<std::vector<double>> theta, std::optional<double> heat);

// (src, dst) of every edge of a CPU graph in CSR order, flattened to (E, 2) int32.
std::vector<std::int32_t> edge_pairs(const Csr& g);

}  // namespace diffuser::cli
