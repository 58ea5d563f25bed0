// Reachability drivers: blocks of 256 sources advance hop by hop together (so progress can be
// told per hop), then each block runs on alone until its frontier empties (diameter).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <numeric>
#include <unordered_set>

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <diffuser/diffusion/reach.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/engine/sys.hpp>

#include "reach_frontier.hpp"

namespace diffuser::diffusion {

using detail::FrontierBlock;
using detail::FrontierScratch;
using detail::kBlockBits;
using detail::Lanes;

double sampling_half_width(std::int64_t s, std::int64_t n, double confidence) {
  if (s <= 0 || n <= 0) return 1.0;
  if (s >= n) return 0.0;
  const double fpc = 1.0 - static_cast<double>(s - 1) / static_cast<double>(n);
  return std::sqrt(fpc * std::log(2.0 / (1.0 - confidence)) / (2.0 * static_cast<double>(s)));
}

std::vector<std::int64_t> sample_tokens(std::int64_t n, std::int64_t s, std::uint64_t seed) {
  s = std::clamp<std::int64_t>(s, 0, n);
  std::unordered_set<std::int64_t> chosen;
  chosen.reserve(static_cast<std::size_t>(s) * 2);
  constexpr std::uint64_t kStream = 0x7265616368ull;  // "reach"
  // Floyd: for j = n - s .. n - 1 draw t in [0, j]; take t, or j if t is already taken.
  for (std::int64_t j = n - s; j < n; ++j) {
    const auto bound = static_cast<std::uint64_t>(j + 1);
    __extension__ using U128 = unsigned __int128;  // Lemire's multiply-shift, unbiased enough for any n
    const auto t = static_cast<std::int64_t>(
        (static_cast<U128>(rng::bits(seed, kStream, static_cast<std::uint64_t>(j))) * bound) >> 64);
    if (!chosen.insert(t).second) chosen.insert(j);
  }
  std::vector<std::int64_t> out(chosen.begin(), chosen.end());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::int32_t> receive_hops(const Csr& g, std::int64_t token, int max_hops) {
  const std::int64_t n = g.num_nodes();
  if (token < 0 || token >= n) throw Error(cat("token ", token, " is out of range [0, ", n, ")"));
  std::vector<std::int32_t> d(static_cast<std::size_t>(n), -1);
  std::vector<std::int32_t> cur{static_cast<std::int32_t>(token)}, next;
  d[static_cast<std::size_t>(token)] = 0;
  for (int hop = 1; !cur.empty() && (max_hops < 0 || hop <= max_hops); ++hop) {
    next.clear();
    for (const std::int32_t v : cur)
      for (const std::int32_t u : g.neighbors(v))
        if (d[static_cast<std::size_t>(u)] < 0) {
          d[static_cast<std::size_t>(u)] = hop;
          next.push_back(u);
        }
    cur.swap(next);
  }
  return d;
}

namespace {

struct BlockRun {
  FrontierBlock block;
  std::int64_t first_seed = 0;               // index into the seed list
  std::vector<std::int64_t> at_distance{0};  // new bits per hop (entry 0 unused)
};

// The seeds, the propagation direction and the per-change hook of one run. Hook(hop, run, v, nb)
// is called from worker threads, with each block owned by one thread at a time.
template <class Hook>
void run_blocks(const std::vector<std::int64_t>& seeds, const CsrView& pull, const CsrView& push,
                int max_hops, bool saturate, const ReachOptions& opt, const Stopwatch& clock, Hook&& hook,
                std::vector<std::int64_t>& at_distance) {
  const std::int64_t n = pull.n;
  const std::int64_t blocks = (static_cast<std::int64_t>(seeds.size()) + kBlockBits - 1) / kBlockBits;
  // Two N-node arrays of 32 bytes per block live at once; keep a batch under about 512 MiB.
  const std::int64_t per_block = n * 2 * static_cast<std::int64_t>(sizeof(Lanes));
  const std::int64_t batch_blocks =
      std::clamp<std::int64_t>((std::int64_t{512} << 20) / per_block, 1, blocks);
  const std::int64_t batches = (blocks + batch_blocks - 1) / batch_blocks;
  require_memory(batch_blocks * per_block, cat("reach: frontier state of ", batch_blocks, " blocks of ",
                                               kBlockBits, " sources over ", n, " tokens"));
  tbb::enumerable_thread_specific<FrontierScratch> scratch;
  std::mutex progress_mutex;
  std::int64_t sources_done = 0, pairs_done = 0;

  for (std::int64_t batch = 0; batch < batches; ++batch) {
    const std::int64_t b0 = batch * batch_blocks, b1 = std::min(blocks, b0 + batch_blocks);
    std::vector<BlockRun> runs(static_cast<std::size_t>(b1 - b0));
    tbb::parallel_for(std::int64_t{0}, b1 - b0, [&](std::int64_t r) {
      BlockRun& run = runs[static_cast<std::size_t>(r)];
      run.first_seed = (b0 + r) * kBlockBits;
      const std::int64_t count =
          std::min<std::int64_t>(kBlockBits, static_cast<std::int64_t>(seeds.size()) - run.first_seed);
      run.block.init(
          std::span<const std::int64_t>(seeds.data() + run.first_seed, static_cast<std::size_t>(count)), n);
    });
    std::int64_t batch_sources = 0;
    for (const auto& run : runs) batch_sources += run.block.seeds();

    auto advance = [&](BlockRun& run, int hop) {
      const std::int64_t gained = run.block.hop(
          pull, push, scratch.local(), [&](std::int32_t v, const Lanes& nb) { hook(hop, run, v, nb); });
      if (gained > 0) {
        if (static_cast<int>(run.at_distance.size()) <= hop)
          run.at_distance.resize(static_cast<std::size_t>(hop) + 1, 0);
        run.at_distance[static_cast<std::size_t>(hop)] += gained;
      }
    };

    // Phase 1: hop-synchronous up to max_hops.
    std::int64_t batch_pairs = 0;
    for (int hop = 1; hop <= max_hops; ++hop) {
      tbb::parallel_for(tbb::blocked_range<std::size_t>(0, runs.size(), 1), [&](const auto& range) {
        for (std::size_t r = range.begin(); r < range.end(); ++r)
          if (!runs[r].block.done()) advance(runs[r], hop);
      });
      std::int64_t done = 0;
      for (const auto& run : runs) {
        done += run.block.done();
        if (static_cast<int>(run.at_distance.size()) > hop)
          batch_pairs += run.at_distance[static_cast<std::size_t>(hop)];
      }
      if (opt.progress) {
        ReachProgress p;
        p.hop = hop;
        p.batch = batch;
        p.batches = batches;
        p.blocks_done = done;
        p.blocks = static_cast<std::int64_t>(runs.size());
        p.seconds = clock.seconds();
        p.coverage = static_cast<double>(pairs_done + batch_pairs) /
                     (static_cast<double>(sources_done + batch_sources) * static_cast<double>(n - 1));
        opt.progress(p);
      }
      if (done == static_cast<std::int64_t>(runs.size())) break;
    }
    sources_done += batch_sources;
    pairs_done += batch_pairs;

    // Phase 2: every block alone until its frontier is empty.
    if (saturate) {
      std::atomic<std::int64_t> finished{0};
      double last_report = clock.seconds();
      tbb::parallel_for(tbb::blocked_range<std::size_t>(0, runs.size(), 1), [&](const auto& range) {
        for (std::size_t r = range.begin(); r < range.end(); ++r) {
          BlockRun& run = runs[r];
          for (int hop = max_hops + 1; !run.block.done(); ++hop) advance(run, hop);
          run.block.release();
          const std::int64_t f = ++finished;
          if (opt.progress) {
            std::lock_guard<std::mutex> lock(progress_mutex);
            if (clock.seconds() - last_report >= 1.0) {
              last_report = clock.seconds();
              ReachProgress p;
              p.hop = max_hops;
              p.saturating = true;
              p.batch = batch;
              p.batches = batches;
              p.blocks_done = f;
              p.blocks = static_cast<std::int64_t>(runs.size());
              p.seconds = last_report;
              opt.progress(p);
            }
          }
        }
      });
    }
    for (const auto& run : runs) {
      if (at_distance.size() < run.at_distance.size()) at_distance.resize(run.at_distance.size(), 0);
      for (std::size_t d = 1; d < run.at_distance.size(); ++d) at_distance[d] += run.at_distance[d];
    }
  }
}

void check_common(const Csr& g, int max_hops, bool any_device = false) {
  if (max_hops < 1 || max_hops > kMaxReachHops)
    throw UsageError(cat("max hops must be in [1, ", kMaxReachHops, "], got ", max_hops));
  if (!any_device && g.device() != Device::cpu) throw Error("reach: the graph must be on the CPU");
  if (g.num_nodes() < 2)
    throw Error(cat("reachability needs at least 2 tokens, the graph has ", g.num_nodes()));
}

// The exact result from the new sources per receiver and hop (gained[(k - 1) * n + v], k <= K)
// and the new pairs per hop (at_distance[d], entry 0 unused): the same arithmetic for both paths.
ReachResult exact_result(std::int64_t n, int K, const std::vector<std::int32_t>& gained,
                         const std::vector<std::int64_t>& at_distance) {
  ReachResult res;
  res.exact = true;
  std::vector<std::int64_t> field(static_cast<std::size_t>(n), 1);
  const double pairs = static_cast<double>(n) * static_cast<double>(n - 1);
  for (int k = 1; k <= K; ++k) {
    for (std::int64_t v = 0; v < n; ++v)
      field[static_cast<std::size_t>(v)] += gained[static_cast<std::size_t>(k - 1) * n + v];
    FieldStats f;
    f.min = *std::min_element(field.begin(), field.end());
    f.max = *std::max_element(field.begin(), field.end());
    const double total = std::accumulate(field.begin(), field.end(), 0.0);
    f.mean = total / static_cast<double>(n);
    res.receptive_field.push_back(f);
    res.coverage.push_back((total - static_cast<double>(n)) / pairs);
  }
  res.pairs_at_distance = at_distance;
  res.diameter = static_cast<int>(at_distance.size()) - 1;
  while (res.diameter > 0 && at_distance[static_cast<std::size_t>(res.diameter)] == 0) --res.diameter;
  res.pairs_at_distance.resize(static_cast<std::size_t>(res.diameter) + 1);
  const std::int64_t reached = std::accumulate(at_distance.begin(), at_distance.end(), std::int64_t{0});
  res.unreachable_pairs = n * (n - 1) - reached;
  res.unreachable_fraction = static_cast<double>(res.unreachable_pairs) / pairs;
  if (res.unreachable_pairs == 0) res.full_coverage_hops = std::max(res.diameter, 1);
  return res;
}

// The GPU's algorithm (engine bitset primitives) on `device`.
ReachResult reach_exact_bitsets(const Csr& g, Device device, const ReachOptions& opt,
                                const Stopwatch& clock) {
  const std::int64_t n = g.num_nodes();
  const int K = opt.max_hops;
  require_memory(n * K * 4, cat("reach: per-token counts for ", K, " hops over ", n, " tokens"));
  std::vector<std::int32_t> gained(static_cast<std::size_t>(n) * static_cast<std::size_t>(K), 0);
  std::vector<std::int64_t> at_distance{0};
  detail::reach_bitsets(g, device, opt, clock, gained, at_distance);
  return exact_result(n, K, gained, at_distance);
}

ReachResult reach_exact(const Csr& g, const ReachOptions& opt, const Stopwatch& clock) {
  const std::int64_t n = g.num_nodes();
  const int K = opt.max_hops;
  const Csr gt = g.transpose();
  require_memory(n * K * 4 * 2,
                 cat("reach: per-token counts for ", K, " hops over ", n, " tokens (per thread)"));
  std::vector<std::int64_t> seeds(static_cast<std::size_t>(n));
  std::iota(seeds.begin(), seeds.end(), 0);
  // Bits are sources j, nodes are receivers i: count per receiver and hop.
  tbb::enumerable_thread_specific<std::vector<std::int32_t>> gained_by_hop;
  std::vector<std::int64_t> at_distance{0};
  run_blocks(
      seeds, g.view(), gt.view(), K, true, opt, clock,
      [&](int hop, const BlockRun&, std::int32_t v, const Lanes& nb) {
        if (hop > K) return;
        auto& c = gained_by_hop.local();
        if (c.empty()) c.assign(static_cast<std::size_t>(n) * K, 0);
        c[static_cast<std::size_t>(hop - 1) * n + v] += nb.popcount();
      },
      at_distance);
  // Sum the threads' counts into the first (each thread's vector is n * K or untouched).
  std::vector<std::int32_t> gained;
  for (auto& c : gained_by_hop) {
    if (c.empty()) continue;
    if (gained.empty()) {
      gained.swap(c);
      continue;
    }
    for (std::size_t x = 0; x < c.size(); ++x) gained[x] += c[x];
    std::vector<std::int32_t>().swap(c);
  }
  if (gained.empty()) gained.assign(static_cast<std::size_t>(n) * K, 0);
  return exact_result(n, K, gained, at_distance);
}

ReachResult reach_sampled(const Csr& g, const ReachOptions& opt, std::int64_t s, const Stopwatch& clock) {
  const std::int64_t n = g.num_nodes();
  const int K = opt.max_hops;
  const Csr gt = g.transpose();
  const std::vector<std::int64_t> seeds = sample_tokens(n, s, opt.seed);
  // Bits are sampled receivers i, propagating backwards (pull over the transpose): count per bit.
  const std::size_t S = seeds.size();
  std::vector<std::int64_t> by_hop(S * static_cast<std::size_t>(K), 0);  // new sources of sample b at hop k
  std::vector<std::int64_t> total(S, 1);
  std::vector<int> ecc(S, 0);
  std::vector<std::int64_t> at_distance{0};
  run_blocks(
      seeds, gt.view(), g.view(), K, true, opt, clock,
      [&](int hop, const BlockRun& run, std::int32_t, const Lanes& nb) {
        nb.for_each_bit([&](int bit) {
          const auto b = static_cast<std::size_t>(run.first_seed + bit);
          if (hop <= K) ++by_hop[b * static_cast<std::size_t>(K) + static_cast<std::size_t>(hop - 1)];
          ++total[b];
          ecc[b] = hop;
        });
      },
      at_distance);

  ReachResult res;
  res.exact = false;
  res.sample_sources = static_cast<std::int64_t>(S);
  res.sampled = seeds;
  std::vector<std::int64_t> field(S, 1);
  for (int k = 1; k <= K; ++k) {
    for (std::size_t b = 0; b < S; ++b)
      field[b] += by_hop[b * static_cast<std::size_t>(K) + static_cast<std::size_t>(k - 1)];
    FieldStats f;
    f.min = *std::min_element(field.begin(), field.end());
    f.max = *std::max_element(field.begin(), field.end());
    const double sum = std::accumulate(field.begin(), field.end(), 0.0);
    f.mean = sum / static_cast<double>(S);
    res.receptive_field.push_back(f);
    res.coverage.push_back((f.mean - 1.0) / static_cast<double>(n - 1));
  }
  res.pairs_at_distance = at_distance;
  res.diameter = *std::max_element(ecc.begin(), ecc.end());
  res.pairs_at_distance.resize(static_cast<std::size_t>(res.diameter) + 1);
  double unreached = 0;
  for (std::size_t b = 0; b < S; ++b)
    unreached += static_cast<double>(n - total[b]) / static_cast<double>(n - 1);
  res.unreachable_fraction = unreached / static_cast<double>(S);
  res.unreachable_pairs =
      std::llround(res.unreachable_fraction * static_cast<double>(n) * static_cast<double>(n - 1));
  if (std::all_of(total.begin(), total.end(), [&](std::int64_t t) { return t == n; }))
    res.full_coverage_hops = std::max(res.diameter, 1);
  res.coverage_half_width = sampling_half_width(static_cast<std::int64_t>(S), n, opt.confidence);
  res.field_mean_half_width = res.coverage_half_width * static_cast<double>(n - 1);
  return res;
}

}  // namespace

ReachResult reach(const Csr& g, const ReachOptions& opt) {
  // A graph on the GPU is analysed there; a CPU graph wherever options.device says.
  const Device device = g.device() == Device::cuda ? Device::cuda : opt.device;
  check_common(g, opt.max_hops, true);
  if (!(opt.confidence > 0.0 && opt.confidence < 1.0))
    throw UsageError(cat("confidence must be in (0, 1), got ", opt.confidence));
  const std::int64_t n = g.num_nodes();
  const Stopwatch clock;
  std::int64_t s = opt.sample;
  if (s < 0) s = n <= kExactReachLimit ? 0 : kDefaultReachSample;
  const bool exact = s == 0 || s >= n;
  if (device == Device::cuda) {
    if (!exact)
      throw UsageError(
          cat("sampled reachability runs on the CPU only",
              opt.sample < 0 ? cat(" (it is the default beyond N = ", kExactReachLimit, ")") : "",
              ": ask for the exact computation (--exact) or use the CPU backend"));
    require_device(Device::cuda);
  }
  ReachResult res = !exact                                  ? reach_sampled(g, opt, s, clock)
                    : device == Device::cuda || opt.bitsets ? reach_exact_bitsets(g, device, opt, clock)
                                                            : reach_exact(g, opt, clock);
  res.nodes = n;
  res.edges = g.num_edges();
  res.max_hops = opt.max_hops;
  res.confidence = opt.confidence;
  res.seconds = clock.seconds();
  return res;
}

std::vector<std::uint8_t> distance_matrix(const Csr& g, int max_hops) {
  check_common(g, std::min(max_hops, kMaxReachHops));
  const std::int64_t n = g.num_nodes();
  if (n > kMaxDistanceMatrix)
    throw Error(cat("a distance matrix needs N <= ", kMaxDistanceMatrix, ", the graph has ", n, " tokens"));
  if (max_hops >= kUnreached)
    throw UsageError(cat("max hops must be < ", int{kUnreached}, " for a distance matrix"));
  std::vector<std::uint8_t> d(static_cast<std::size_t>(n * n), kUnreached);
  for (std::int64_t i = 0; i < n; ++i) d[static_cast<std::size_t>(i * n + i)] = 0;
  const Csr gt = g.transpose();
  std::vector<std::int64_t> seeds(static_cast<std::size_t>(n)), at;
  std::iota(seeds.begin(), seeds.end(), 0);
  // Distinct (i, j) cells are written by one block each: no two threads touch the same byte.
  run_blocks(
      seeds, g.view(), gt.view(), max_hops, false, ReachOptions{}, Stopwatch{},
      [&](int hop, const BlockRun& run, std::int32_t v, const Lanes& nb) {
        std::uint8_t* row = d.data() + static_cast<std::size_t>(v) * static_cast<std::size_t>(n);
        nb.for_each_bit([&](int bit) { row[run.first_seed + bit] = static_cast<std::uint8_t>(hop); });
      },
      at);
  return d;
}

std::vector<double> binned_coverage(const Csr& g, int max_hops, int bins) {
  check_common(g, max_hops);
  const std::int64_t n = g.num_nodes();
  if (n > kExactReachLimit)
    throw Error(cat("binned reachability needs N <= ", kExactReachLimit, ", the graph has ", n, " tokens"));
  if (bins < 1 || bins > n) throw UsageError(cat("bins must be in [1, ", n, "], got ", bins));
  const Csr gt = g.transpose();
  std::vector<std::int64_t> seeds(static_cast<std::size_t>(n)), at;
  std::iota(seeds.begin(), seeds.end(), 0);
  auto bin_of = [&](std::int64_t x) { return static_cast<std::size_t>(x * bins / n); };
  tbb::enumerable_thread_specific<std::vector<std::int64_t>> counts;
  run_blocks(
      seeds, g.view(), gt.view(), max_hops, false, ReachOptions{}, Stopwatch{},
      [&](int, const BlockRun& run, std::int32_t v, const Lanes& nb) {
        auto& c = counts.local();
        if (c.empty()) c.assign(static_cast<std::size_t>(bins) * static_cast<std::size_t>(bins), 0);
        const std::size_t row = bin_of(v) * static_cast<std::size_t>(bins);
        nb.for_each_bit([&](int bit) { ++c[row + bin_of(run.first_seed + bit)]; });
      },
      at);
  std::vector<double> out(static_cast<std::size_t>(bins) * static_cast<std::size_t>(bins), 0.0);
  for (const auto& c : counts)
    for (std::size_t x = 0; x < c.size(); ++x) out[x] += static_cast<double>(c[x]);
  // Add the diagonal (hop 0) and divide by the cell's pair count.
  for (std::int64_t i = 0; i < n; ++i) out[bin_of(i) * static_cast<std::size_t>(bins) + bin_of(i)] += 1.0;
  std::vector<std::int64_t> width(static_cast<std::size_t>(bins), 0);
  for (std::int64_t i = 0; i < n; ++i) ++width[bin_of(i)];
  for (std::size_t a = 0; a < static_cast<std::size_t>(bins); ++a)
    for (std::size_t b = 0; b < static_cast<std::size_t>(bins); ++b)
      out[a * static_cast<std::size_t>(bins) + b] /= static_cast<double>(width[a] * width[b]);
  return out;
}

}  // namespace diffuser::diffusion
