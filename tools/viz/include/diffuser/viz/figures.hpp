// The pictures of `diffuser viz` and `diffuser report`, built on a Canvas from a token graph:
// the adjacency pattern, the k-hop reachability matrix, one token's receptive-field growth and
// one token's diffused attention row.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <diffuser/diffusion/coefficients.hpp>
#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/csr.hpp>

#include <diffuser/viz/canvas.hpp>

namespace diffuser::viz {

// Exact cells (one per (i, j), at least one pixel each) up to this N; a binned density beyond.
inline constexpr std::int64_t kExactPatternLimit = 2048;

struct FigureOptions {
  std::string title;     // empty: a default naming the graph
  std::string subtitle;  // empty: a default with N and the edge count
  int plot = 640;        // plot side in pixels (exact pictures may grow to one pixel a token)
  std::int64_t max_exact = kExactPatternLimit;  // exact cells up to this N, binned beyond
};

// Row i = query token i, column j = key token j; a cell for every edge j -> i.
Canvas pattern_figure(const Csr& g, const std::string& source, const FigureOptions& opt = {});
// Cell (i, j) coloured by the hops i needs to receive from j, up to `hops` (N <= 2,048 exact;
// up to 16,384 the fraction within `hops` per bin).
Canvas reach_figure(const Csr& g, int hops, const std::string& source, const FigureOptions& opt = {});
// Token i's receptive field after 0..hops hops, one strip per hop, cells coloured by the hop
// that reached them, with |R_k(i)| at the right.
Canvas field_figure(const Csr& g, std::int64_t token, int hops, const std::string& source,
                    const FigureOptions& opt = {});
// Token i's row of T = sum_k theta_k A^k per head (log colour), its direct neighbours marked,
// and the head-averaged weight per key; with values, the share of ||z_i|| terms per key
// (T[i][j] ||v_j|| normalized: Kobayashi et al. 2020's weight-times-norm attribution).
struct AttentionRows {
  std::vector<std::vector<double>> rows;  // per head, N entries
  std::vector<double> value_norms;        // ||v_j|| averaged over heads (empty: no V)
  std::string attention;                  // "uniform" or "softmax (H heads)"
  std::string coefficients;
};
Canvas attention_figure(const Csr& g, std::int64_t token, const AttentionRows& a, const std::string& source,
                        const FigureOptions& opt = {});

}  // namespace diffuser::viz
