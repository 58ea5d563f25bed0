// Diffusion mass: rows of A^k for blocks of 64 tokens at once (row_powers.hpp, one thread per
// block); the mass on each token's direct neighbourhood is read off after each hop.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <diffuser/diffusion/mass.hpp>
#include <diffuser/diffusion/reach.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>

#include "row_powers.hpp"

namespace diffuser::diffusion {

namespace {

using detail::kLanes;
using detail::RowPowers;
using detail::RowWeights;

std::vector<double> normalized_theta(const Coefficients& c) {
  std::vector<double> t = c.theta();
  double sum = 0;
  for (const double x : t) {
    if (!(x >= 0.0) || !std::isfinite(x))
      throw Error(cat("diffusion mass needs non-negative coefficients, got theta = ", c.describe()));
    sum += x;
  }
  if (!(sum > 0.0))
    throw Error(cat("diffusion mass needs coefficients with a positive sum (", c.describe(), ")"));
  for (double& x : t) x /= sum;
  return t;
}

// outside[(b * K1 + k)] for the tokens seeds[first .. first + count) of one head.
void block_outside(const RowWeights& W, const std::vector<std::int64_t>& seeds, std::size_t first, int count,
                   int K, RowPowers& rows, double* outside) {
  const CsrView& g = W.g;
  rows.start(g.n, seeds.data() + first, count);
  const int K1 = K + 1;
  for (int b = 0; b < count; ++b) outside[b * K1] = 0.0;
  for (int k = 1; k <= K; ++k) {
    rows.step(W);
    // Mass of seed b on its direct neighbourhood N1(t) = {t} + sources of t, against its total.
    double total[kLanes] = {};
    for (const std::int32_t j : rows.active())
      for (int l = 0; l < count; ++l) total[l] += rows.at(j).v[l];
    for (int b = 0; b < count; ++b) {
      const auto t = seeds[first + static_cast<std::size_t>(b)];
      double direct = rows.at(t).v[b];
      for (std::int64_t e = g.row_ptr[t]; e < g.row_ptr[t + 1]; ++e)
        if (g.col[e] != t) direct += rows.at(g.col[e]).v[b];
      outside[b * K1 + k] = total[b] > 0 ? std::clamp((total[b] - direct) / total[b], 0.0, 1.0) : 0.0;
    }
  }
  rows.clear();
}

}  // namespace

MassResult diffusion_mass(const Csr& g, const Coefficients& c, MatrixView<const float> weights,
                          const MassOptions& opt) {
  const std::int64_t n = g.num_nodes();
  if (n < 1) throw Error("diffusion mass: the graph has no tokens");
  if (g.device() != Device::cpu) throw Error("diffusion mass: the graph must be on the CPU");
  if (weights.data && weights.rows != g.num_edges())
    throw Error(
        cat("attention weights have ", weights.rows, " rows but the graph has ", g.num_edges(), " edges"));
  if (!(opt.confidence > 0.0 && opt.confidence < 1.0))
    throw UsageError(cat("confidence must be in (0, 1), got ", opt.confidence));
  const Stopwatch clock;
  const std::vector<double> theta = normalized_theta(c);
  const int K = static_cast<int>(theta.size()) - 1;
  const int H = weights.data ? static_cast<int>(weights.cols) : 1;

  std::int64_t s = opt.sample;
  if (s < 0) s = n <= kExactMassLimit ? 0 : kDefaultMassSample;
  const bool exact = s == 0 || s >= n;
  std::vector<std::int64_t> seeds;
  if (exact) {
    seeds.resize(static_cast<std::size_t>(n));
    std::iota(seeds.begin(), seeds.end(), 0);
  } else {
    seeds = sample_tokens(n, s, opt.seed);
  }
  const std::size_t S = seeds.size();
  const auto K1 = static_cast<std::size_t>(K + 1);
  require_memory(static_cast<std::int64_t>(S * K1 * static_cast<std::size_t>(H) * 8) + n * 2 * 256 * 2,
                 cat("diffusion mass: ", S, " tokens x ", K + 1, " hops x ", H, " heads"));
  std::vector<double> outside(S * K1 * static_cast<std::size_t>(H), 0.0);  // [(h * S + b) * K1 + k]
  tbb::enumerable_thread_specific<RowPowers> scratch;
  const std::size_t blocks = (S + kLanes - 1) / kLanes;
  std::atomic<std::int64_t> done{0};
  const auto total = static_cast<std::int64_t>(blocks) * H;
  for (int h = 0; h < H; ++h) {
    const RowWeights W(g, weights, h);
    tbb::parallel_for(std::size_t{0}, blocks, [&](std::size_t blk) {
      const std::size_t first = blk * kLanes;
      const int count = static_cast<int>(std::min<std::size_t>(kLanes, S - first));
      block_outside(W, seeds, first, count, K, scratch.local(),
                    outside.data() + (static_cast<std::size_t>(h) * S + first) * K1);
      if (opt.progress) opt.progress(++done, total);
    });
  }

  MassResult res;
  res.nodes = n;
  res.edges = g.num_edges();
  res.heads = H;
  res.uniform = weights.data == nullptr;
  res.exact = exact;
  res.sample_sources = exact ? 0 : static_cast<std::int64_t>(S);
  res.confidence = opt.confidence;
  for (std::size_t k = 0; k < K1; ++k) {
    HopMass hm;
    hm.k = static_cast<int>(k);
    hm.theta = theta[k];
    hm.min = 1.0;
    double sum = 0;
    for (std::size_t x = 0; x < S * static_cast<std::size_t>(H); ++x) {
      const double o = outside[x * K1 + k];
      sum += o;
      hm.min = std::min(hm.min, o);
      hm.max = std::max(hm.max, o);
    }
    hm.mean = sum / static_cast<double>(S * static_cast<std::size_t>(H));
    hm.contribution = hm.theta * hm.mean;
    res.hops.push_back(hm);
    if (k >= 2) res.beyond_one_hop_theta += theta[k];
  }
  res.outside_min = 1.0;
  double all = 0;
  for (int h = 0; h < H; ++h) {
    double head_sum = 0;
    for (std::size_t b = 0; b < S; ++b) {
      const double* o = outside.data() + (static_cast<std::size_t>(h) * S + b) * K1;
      double tok = 0;
      for (std::size_t k = 0; k < K1; ++k) tok += theta[k] * o[k];
      head_sum += tok;
      res.outside_min = std::min(res.outside_min, tok);
      res.outside_max = std::max(res.outside_max, tok);
    }
    res.outside_mass_per_head.push_back(head_sum / static_cast<double>(S));
    all += head_sum;
  }
  res.outside_mass = all / static_cast<double>(S * static_cast<std::size_t>(H));
  if (!exact) res.half_width = sampling_half_width(static_cast<std::int64_t>(S), n, opt.confidence);
  res.seconds = clock.seconds();
  return res;
}

std::vector<double> diffused_row(const Csr& g, const Coefficients& c, MatrixView<const float> weights,
                                 int head, std::int64_t token) {
  const std::int64_t n = g.num_nodes();
  if (token < 0 || token >= n) throw Error(cat("token ", token, " is out of range [0, ", n, ")"));
  if (weights.data && weights.rows != g.num_edges())
    throw Error(
        cat("attention weights have ", weights.rows, " rows but the graph has ", g.num_edges(), " edges"));
  if (weights.data && (head < 0 || head >= weights.cols))
    throw Error(cat("head ", head, " is out of range [0, ", weights.cols, ")"));
  const RowWeights W(g, weights, weights.data ? head : 0);
  const std::vector<double>& theta = c.theta();
  std::vector<double> cur(static_cast<std::size_t>(n), 0.0), next(static_cast<std::size_t>(n), 0.0),
      out(static_cast<std::size_t>(n), 0.0);
  cur[static_cast<std::size_t>(token)] = 1.0;
  out[static_cast<std::size_t>(token)] = theta[0];
  const CsrView v = g.view();
  for (std::size_t k = 1; k < theta.size(); ++k) {
    std::fill(next.begin(), next.end(), 0.0);
    for (std::int64_t j = 0; j < n; ++j) {
      const double r = cur[static_cast<std::size_t>(j)];
      if (r == 0.0) continue;
      if (W.self[static_cast<std::size_t>(j)]) {
        next[static_cast<std::size_t>(j)] += r;
        continue;
      }
      for (std::int64_t e = v.row_ptr[j]; e < v.row_ptr[j + 1]; ++e)
        next[static_cast<std::size_t>(v.col[e])] += r * static_cast<double>(W.at(j, e));
    }
    cur.swap(next);
    for (std::int64_t j = 0; j < n; ++j)
      out[static_cast<std::size_t>(j)] += theta[k] * cur[static_cast<std::size_t>(j)];
  }
  return out;
}

}  // namespace diffuser::diffusion
