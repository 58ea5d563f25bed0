// Shared pieces of the analysis subcommands (reach, spectral, mass, viz, report): number
// formats, the diffusion-coefficient options and attention weights from Q/K files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <diffuser/diffusion/coefficients.hpp>
#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/csr.hpp>

#include "cli.hpp"

namespace diffuser::cli {

// "%.6g"-style number for tables, with thousands grouping for integers.
std::string fmt_num(double v, int digits = 4);
std::string fmt_pct(double fraction, int decimals = 1);

// --hops K (0..kMaxHops), --alpha A in [0, 1] (PPR), or --theta t0,t1,..: the diffusion
// coefficients; defaults: PPR with the given hops and alpha 0.1.
diffusion::Coefficients coefficients_option(Args& args, int default_hops);
OptionGroup coefficient_option_group();

// Attention weights (E, H) from --q Q.npy --k K.npy (both or neither), softmax over each token's
// sources; empty Matrix when neither is given. Throws Error naming the file for a shape or token
// count that does not fit the graph, or NaN/Inf.
struct QkPaths {
  std::optional<std::filesystem::path> q, k;
  bool given() const { return q.has_value(); }
};
QkPaths qk_option(Args& args);
Matrix<float> load_attention(const Csr& g, const QkPaths& paths);

// The graph source's size, checked before heavy work: N >= 2.
void require_tokens(const Csr& g, const std::string& description, std::int64_t at_least, const char* why);

}  // namespace diffuser::cli
