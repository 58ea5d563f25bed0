// The mixing profile: rows of P^k for blocks of 64 sampled tokens (row_powers.hpp, one thread per
// block) against the average row u_k = u_{k-1} P, hop by hop.
#include <algorithm>
#include <cmath>
#include <numeric>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <diffuser/diffusion/mixing.hpp>
#include <diffuser/diffusion/reach.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>

#include "row_powers.hpp"

namespace diffuser::diffusion {

namespace {

using detail::kLanes;
using detail::RowPowers;
using detail::RowWeights;

// u <- u P: the average token's attention one hop further (empty rows keep their mass).
void advance_average(const RowWeights& W, std::vector<double>& u, std::vector<double>& next) {
  const CsrView& g = W.g;
  std::fill(next.begin(), next.end(), 0.0);
  for (std::int64_t j = 0; j < g.n; ++j) {
    const double r = u[static_cast<std::size_t>(j)];
    if (r == 0.0) continue;
    if (W.self[static_cast<std::size_t>(j)]) {
      next[static_cast<std::size_t>(j)] += r;
      continue;
    }
    const double a = r * static_cast<double>(W.inv_deg[static_cast<std::size_t>(j)]);
    for (std::int64_t e = g.row_ptr[j]; e < g.row_ptr[j + 1]; ++e)
      next[static_cast<std::size_t>(g.col[e])] += a;
  }
  u.swap(next);
}

}  // namespace

std::int64_t default_mixing_sample(std::int64_t edges) {
  const std::int64_t budget = (std::int64_t{1} << 30) / std::max<std::int64_t>(edges, 1);
  return std::clamp<std::int64_t>(budget / kLanes * kLanes, kMinMixingSample, kDefaultMixingSample);
}

MixingResult mixing_profile(const Csr& g, const MixingOptions& opt) {
  const std::int64_t n = g.num_nodes();
  if (n < 1) throw Error("mixing profile: the graph has no tokens");
  if (g.device() != Device::cpu) throw Error("mixing profile: the graph must be on the CPU");
  if (opt.max_hops < 1 || opt.max_hops > 4096)
    throw UsageError(cat("mixing hops must be in [1, 4096], got ", opt.max_hops));
  if (!(opt.confidence > 0.0 && opt.confidence < 1.0))
    throw UsageError(cat("confidence must be in (0, 1), got ", opt.confidence));
  const Stopwatch clock;
  std::int64_t s = opt.sample;
  if (s < 0) s = n <= kExactMixingLimit ? 0 : default_mixing_sample(g.num_edges());
  const bool exact = s == 0 || s >= n;
  std::vector<std::int64_t> seeds;
  if (exact) {
    seeds.resize(static_cast<std::size_t>(n));
    std::iota(seeds.begin(), seeds.end(), 0);
  } else {
    seeds = sample_tokens(n, s, opt.seed);
  }
  const std::size_t S = seeds.size();
  const std::size_t blocks = (S + kLanes - 1) / kLanes;
  const std::size_t workers = std::min<std::size_t>(blocks, 64);
  require_memory(
      static_cast<std::int64_t>(workers) * n * 2 * static_cast<std::int64_t>(sizeof(detail::RowLanes)) +
          n * 16,
      cat("mixing profile: ", S, " tokens over ", n));

  const RowWeights W(g, {}, 0);
  std::vector<double> u(static_cast<std::size_t>(n), 1.0 / static_cast<double>(n)), next(u.size());
  // The blocks advance hop by hop together, so that all can stop at the same hop.
  std::vector<RowPowers> rows(blocks);
  for (std::size_t b = 0; b < blocks; ++b)
    rows[b].start(n, seeds.data() + b * kLanes,
                  static_cast<int>(std::min<std::size_t>(kLanes, S - b * kLanes)));
  std::vector<double> tv(S);
  MixingResult res;
  res.exact = exact;
  res.sample_sources = exact ? 0 : static_cast<std::int64_t>(S);
  res.confidence = opt.confidence;
  for (int k = 1; k <= opt.max_hops; ++k) {
    advance_average(W, u, next);
    tbb::parallel_for(std::size_t{0}, blocks, [&](std::size_t b) {
      RowPowers& r = rows[b];
      r.step(W);
      const int count = static_cast<int>(std::min<std::size_t>(kLanes, S - b * kLanes));
      // 1/2 sum_j |row_j - u_j| = 1/2 (1 + sum over active j of (|row_j - u_j| - u_j)): inactive
      // tokens hold no row mass.
      double acc[kLanes] = {};
      for (const std::int32_t j : r.active()) {
        const double uj = u[static_cast<std::size_t>(j)];
        const detail::RowLanes& lanes = r.at(j);
        for (int l = 0; l < count; ++l) acc[l] += std::fabs(lanes.v[l] - uj) - uj;
      }
      for (int l = 0; l < count; ++l)
        tv[b * kLanes + static_cast<std::size_t>(l)] = std::clamp(0.5 * (1.0 + acc[l]), 0.0, 1.0);
    });
    MixingHop hop;
    hop.k = k;
    for (const double t : tv) {
      hop.mean += t;
      hop.max = std::max(hop.max, t);
    }
    hop.mean /= static_cast<double>(S);
    res.hops.push_back(hop);
    if (!res.mixing_hops && hop.max <= kMixedSpread) res.mixing_hops = k;
    if (opt.progress) opt.progress(k, opt.max_hops);
    if (hop.max < opt.stop_below) break;
  }
  if (!exact) res.half_width = sampling_half_width(static_cast<std::int64_t>(S), n, opt.confidence);
  res.seconds = clock.seconds();
  return res;
}

}  // namespace diffuser::diffusion
