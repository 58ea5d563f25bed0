// How fast repeated attention forgets where it started, measured directly rather than through
// eigenvalues (which say little when P is far from normal, e.g. for causal patterns): the
// total-variation distance between a token's k-hop attention and the average token's.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include <diffuser/engine/csr.hpp>

namespace diffuser::diffusion {

// With P = D^-1 A (uniform attention; empty rows attend to themselves), row i of P^k is the
// distribution over tokens that token i's attention reaches after k hops, and
// u_k = (1/N) 1^T P^k is the average token's. The spread of token i after k hops is
//   tv_k(i) = 1/2 sum_j |P^k[i][j] - u_k[j]|    (in [0, 1])
// 0 when token i's k-hop attention no longer depends on i, 1 when it shares nothing with the
// average. It never needs an eigenvalue, so it means the same for directed, non-normal graphs.
// It is within a factor 2 of the classical distance to stationarity max_i TV(P^k[i], pi), and
// mixing_hops = the first k with max_i tv_k(i) <= 1/4 is then the usual mixing time up to that
// factor. Sampled tokens give a lower bound on the max; the mean comes with the
// Hoeffding-Serfling half-width of reach.hpp.

inline constexpr std::int64_t kExactMixingLimit = 512;
// Sampled by default: up to 256 tokens, fewer on large graphs so that a hop costs at most about
// 2^30 lane-edge updates (64 tokens at 18.8 M edges, N = 65,536 of the recipe); at least 64.
inline constexpr std::int64_t kDefaultMixingSample = 256;
inline constexpr std::int64_t kMinMixingSample = 64;
inline constexpr double kMixedSpread = 0.25;

struct MixingOptions {
  int max_hops = 16;
  // < 0: automatic (exact for N <= kExactMixingLimit, else default_mixing_sample(edges) tokens);
  // 0: exact; > 0: that many distinct tokens drawn at random (exact if >= N).
  std::int64_t sample = -1;
  std::uint64_t seed = 0;
  double confidence = 0.95;
  double stop_below = 0.01;  // stop once every sampled token's spread is below this
  // Called after each hop with (hop, hops).
  std::function<void(int, int)> progress;
};

struct MixingHop {
  int k = 0;
  double mean = 0, max = 0;  // tv_k over the (sampled) tokens
};

struct MixingResult {
  bool exact = true;
  std::int64_t sample_sources = 0;
  double half_width = 0;  // sampled: of the mean, at `confidence`
  double confidence = 0.95;
  std::vector<MixingHop> hops;     // k = 1, 2, ... up to max_hops or until stop_below
  std::optional<int> mixing_hops;  // first k with max tv_k <= kMixedSpread
  double seconds = 0;
};

MixingResult mixing_profile(const Csr& g, const MixingOptions& options = {});

// The automatic sample for a graph of `edges` edges (a multiple of 64 in [64, 256]).
std::int64_t default_mixing_sample(std::int64_t edges);

}  // namespace diffuser::diffusion
