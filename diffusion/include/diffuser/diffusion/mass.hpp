// Diffusion mass: how much of the attention a token receives through diffusion comes from tokens
// it is not directly connected to, hop by hop, for uniform attention or given attention weights.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <diffuser/diffusion/coefficients.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/tensor.hpp>

namespace diffuser::diffusion {

// Definitions. A is the attention matrix on the graph: row i holds token i's weights over its
// sources (uniform 1/deg(i), or softmax weights of one head); a token with no sources attends to
// itself (A[i][i] = 1), so every row sums to 1. The diffusion operator is T = sum_k theta_k A^k.
// N1(i) = {i} and i's sources: the tokens directly connected to i. For hop k,
//   outside_k(i) = sum of (A^k)[i][j] over j not in N1(i)
// is the share of the hop-k attention of token i that comes from tokens it is not connected to
// (0 for k = 0 and k = 1 by construction: only paths of length >= 2 leave N1(i)). The diffused
// outside mass of token i is sum_k theta_k outside_k(i) / sum_k theta_k: the share of its whole
// diffused attention that comes from tokens outside N1(i). Per hop, `contribution` is
// theta_k mean_i outside_k(i) / sum theta, so the contributions add up to the outside mass.

inline constexpr std::int64_t kExactMassLimit = 4096;
inline constexpr std::int64_t kDefaultMassSample = 1024;

struct MassOptions {
  // < 0: automatic (exact for N <= kExactMassLimit, else kDefaultMassSample tokens);
  // 0: exact; > 0: that many distinct tokens drawn at random (exact if >= N).
  std::int64_t sample = -1;
  std::uint64_t seed = 0;
  double confidence = 0.95;
  // Called after each block of 64 tokens with (blocks done, blocks), from the worker threads.
  std::function<void(std::int64_t, std::int64_t)> progress;
};

struct HopMass {
  int k = 0;
  double theta = 0;         // normalized: theta_k / sum theta
  double mean = 0;          // mean over tokens (and heads) of outside_k(i)
  double min = 0, max = 0;  // over tokens and heads
  double contribution = 0;  // theta * mean
};

struct MassResult {
  std::int64_t nodes = 0, edges = 0;
  int heads = 1;
  bool uniform = true;
  bool exact = true;
  std::int64_t sample_sources = 0;
  std::vector<HopMass> hops;                  // k = 0..K
  double outside_mass = 0;                    // mean over tokens and heads
  double outside_min = 0, outside_max = 0;    // over tokens (and heads)
  std::vector<double> outside_mass_per_head;  // mean over tokens, per head
  double beyond_one_hop_theta = 0;            // sum_{k >= 2} theta_k / sum theta
  double half_width = 0;                      // sampled: Hoeffding-Serfling, per mean quantity
  double confidence = 0.95;
  double seconds = 0;
};

// weights: (E, H) in CSR order (rows of A; per head); an empty view means uniform attention.
// Throws Error for negative theta, theta summing to 0, or a weights shape that does not match.
MassResult diffusion_mass(const Csr& g, const Coefficients& c, MatrixView<const float> weights,
                          const MassOptions& options = {});

// Row `token` of T = sum_k theta_k A^k for one head (weights empty: uniform): T[token][j] for
// every j. Costs K passes over the edges.
std::vector<double> diffused_row(const Csr& g, const Coefficients& c, MatrixView<const float> weights,
                                 int head, std::int64_t token);

}  // namespace diffuser::diffusion
