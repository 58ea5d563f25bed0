// Multi-hop reachability of a token graph: how many tokens each token can receive information
// from within k hops (coverage, receptive fields, diameter), exact with bit-parallel frontiers or
// estimated from sampled tokens with a stated error bound.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/device.hpp>

namespace diffuser::diffusion {

// Conventions. Information flows along edges j -> i (token i attends to token j), so token i
// receives from j within k hops when a path j -> ... -> i of at most k edges exists. R_k(i), the
// receptive field of i, is the set of tokens i receives from within k hops; it always holds i
// itself (hop 0), so |R_k(i)| is in [1, N]. coverage(k) is the fraction of ordered pairs (i, j),
// i != j, with j in R_k(i): mean over i of (|R_k(i)| - 1) / (N - 1).

// Largest N that `reach` handles exactly unless told otherwise, and the default sample beyond.
inline constexpr std::int64_t kExactReachLimit = 16384;
inline constexpr std::int64_t kDefaultReachSample = 4096;
inline constexpr int kMaxReachHops = 1024;
// Bitset path (GPU): the three N-node bitsets (frontier, next, visited) of one chunk of sources
// stay under this many bytes, so N = 65,536 runs as one chunk of 1.5 GiB.
inline constexpr std::int64_t kReachBitsetBytes = std::int64_t{2} << 30;

struct ReachProgress {
  int hop = 0;              // hop just finished
  bool saturating = false;  // past max_hops, running on only to find the diameter
  std::int64_t batch = 0, batches = 1;
  std::int64_t blocks_done = 0, blocks = 0;  // source blocks (256 sources each) with an empty frontier
  double seconds = 0;                        // since the start of reach()
  double coverage = 0;  // coverage after this hop over the batches done (meaningless while saturating)
};

struct ReachOptions {
  int max_hops = 8;  // 1..kMaxReachHops: length of the coverage and receptive-field lists
  // < 0: automatic (exact for N <= kExactReachLimit, else kDefaultReachSample tokens);
  // 0: exact whatever N; > 0: that many distinct tokens drawn at random (exact if >= N).
  std::int64_t sample = -1;
  std::uint64_t seed = 0;    // draws the sampled tokens (rng::, reproducible)
  double confidence = 0.95;  // of the stated error bounds
  // Where the exact computation runs. cuda: the engine's bitset primitives (ops_bits.hpp) on the
  // GPU, every source of a chunk at once, one bit each; the same result as the CPU. A graph that
  // already lives on the GPU runs there. Sampled mode runs on the CPU only (UsageError otherwise).
  Device device = Device::cpu;
  // Runs the exact computation with the bitset primitives even on the CPU: the GPU's algorithm,
  // for tests without a GPU (slower than the CPU's own frontier blocks).
  bool bitsets = false;
  // Bitset path: sources per chunk (rounded up to a multiple of 64); 0 = as many as fit in
  // kReachBitsetBytes.
  std::int64_t chunk_sources = 0;
  // Called after each hop (and, while saturating, at most about once a second), from any thread
  // but never concurrently.
  std::function<void(const ReachProgress&)> progress;
};

struct FieldStats {
  std::int64_t min = 0;
  double mean = 0;
  std::int64_t max = 0;
};

struct ReachResult {
  std::int64_t nodes = 0, edges = 0;
  int max_hops = 0;
  bool exact = true;
  std::int64_t sample_sources = 0;    // tokens i sampled (0 when exact)
  std::vector<std::int64_t> sampled;  // their ids, ascending (empty when exact)
  // Entry k-1 for k = 1..max_hops.
  std::vector<double> coverage;
  std::vector<FieldStats> receptive_field;  // sampled: min/max over the sampled tokens only
  // pairs_at_distance[d] for d = 1..diameter (entry 0 unused, 0): ordered pairs (i, j), i != j,
  // whose shortest path has d edges; over the sampled rows i when sampled.
  std::vector<std::int64_t> pairs_at_distance;
  // Smallest k with coverage(k) = 1 (not limited to max_hops); nullopt if some pair is never
  // reached. Sampled: the value for the sampled rows, a lower bound.
  std::optional<int> full_coverage_hops;
  int diameter = 0;                    // largest finite distance (sampled: lower bound)
  std::int64_t unreachable_pairs = 0;  // ordered pairs, i != j, never reached (sampled: estimate)
  double unreachable_fraction = 0;     // of the N (N - 1) pairs
  // Sampled only: half-width at `confidence` of the coverage (and unreachable fraction) estimate,
  // Hoeffding's inequality with Serfling's finite-population factor; the receptive-field mean's
  // half-width is (N - 1) times it.
  double coverage_half_width = 0;
  double field_mean_half_width = 0;
  double confidence = 0.95;
  double seconds = 0;
};

// Runs to saturation (every frontier empty), so diameter and unreachable_pairs are exact in exact
// mode whatever max_hops is. Work: about (N / 256) * hops * E word operations in the worst case,
// much less where frontiers are sparse (push) or rows fill up early (pull with early exit).
// Throws Error for N < 2 (or no usable GPU for device = cuda) and UsageError for max_hops or
// confidence out of range, or sampled mode on the GPU.
ReachResult reach(const Csr& g, const ReachOptions& options);

// Half-width of a two-sided `confidence` interval for the mean of a [0, 1] quantity over s of n
// items drawn without replacement: sqrt((1 - (s - 1) / n) ln(2 / (1 - confidence)) / (2 s)).
double sampling_half_width(std::int64_t s, std::int64_t n, double confidence);

// s distinct ids in [0, n), ascending, drawn with rng:: from `seed` (Floyd's algorithm).
std::vector<std::int64_t> sample_tokens(std::int64_t n, std::int64_t s, std::uint64_t seed);

// Hops for `token` to receive from each j (BFS over CSR rows): 0 for token itself, -1 when not
// within max_hops (max_hops < 0: unlimited).
std::vector<std::int32_t> receive_hops(const Csr& g, std::int64_t token, int max_hops = -1);

// d[i * N + j] = hops for i to receive from j, capped: kUnreached when more than max_hops (or
// never). N <= kMaxDistanceMatrix. Exact, bit-parallel.
inline constexpr std::uint8_t kUnreached = 255;
inline constexpr std::int64_t kMaxDistanceMatrix = 4096;
std::vector<std::uint8_t> distance_matrix(const Csr& g, int max_hops);

// Fraction of pairs (i, j) with j in R_k(i), k = max_hops, per cell of a bins x bins grid over
// (i, j) (row-major, cell (a, b) holds i in [a N / bins, (a + 1) N / bins)). N <= kExactReachLimit
// times 4; exact.
std::vector<double> binned_coverage(const Csr& g, int max_hops, int bins);

}  // namespace diffuser::diffusion
