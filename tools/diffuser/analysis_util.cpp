#include <cmath>
#include <cstdio>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/npy.hpp>

#include "analysis_util.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

namespace fs = std::filesystem;

std::string fmt_num(double v, int digits) {
  if (!std::isfinite(v)) return "-";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return group_digits(static_cast<std::int64_t>(v));
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::string fmt_pct(double fraction, int decimals) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*f%%", decimals, 100.0 * fraction);
  return buf;
}

OptionGroup coefficient_option_group() {
  return {"diffusion coefficients (default: PPR, alpha 0.1)",
          {{.label = "--hops K",
            .help = cat("hops of the diffusion, 0..", diffusion::kMaxHops, " (theta_0..theta_K)"),
            .type = Option::Type::integer,
            .min = 0,
            .max = diffusion::kMaxHops},
           {.label = "--alpha A",
            .help = "PPR teleport weight in [0, 1]: theta_k = A (1 - A)^k for k < K, theta_K = (1 - A)^K (the "
                    "authors' recursion)",
            .type = Option::Type::number,
            .min = 0,
            .max = 1},
           {.label = "--theta t0,t1,..",
            .help = "the coefficients themselves (K = count - 1; >= 0, positive sum); excludes --hops and --alpha",
            .type = Option::Type::numbers}}};
}

diffusion::Coefficients coefficients_option(Args& args, int default_hops) {
  const auto hops = args.get_int("hops");
  const auto alpha = args.get_double("alpha");
  const auto theta = args.get_doubles("theta");
  if (theta && (hops || alpha))
    throw UsageError(cat("--theta gives theta_0..theta_K itself; drop --", hops ? "hops" : "alpha"));
  if (hops && (*hops < 0 || *hops > diffusion::kMaxHops))
    throw UsageError(cat("--hops must be in [0, ", diffusion::kMaxHops, "], got ", *hops));
  if (alpha && !(*alpha >= 0.0 && *alpha <= 1.0))
    throw UsageError(cat("--alpha must be in [0, 1], got ", *alpha));
  if (theta) {
    if (theta->empty() || static_cast<std::int64_t>(theta->size()) - 1 > diffusion::kMaxHops)
      throw UsageError(cat("--theta needs 1 to ", diffusion::kMaxHops + 1, " values, got ", theta->size()));
    double sum = 0;
    for (const double t : *theta) {
      if (!(t >= 0.0) || !std::isfinite(t))
        throw UsageError(cat("--theta values must be finite and >= 0, got ", t));
      sum += t;
    }
    if (!(sum > 0.0)) throw UsageError("--theta values must not all be 0");
    return diffusion::Coefficients::custom(*theta);
  }
  return diffusion::Coefficients::ppr(static_cast<int>(hops.value_or(default_hops)), alpha.value_or(0.1));
}

QkPaths qk_option(Args& args) {
  QkPaths p;
  if (auto q = args.get("q")) p.q = *q;
  if (auto k = args.get("k")) p.k = *k;
  if (p.q.has_value() != p.k.has_value())
    throw UsageError(
        cat("--q and --k go together (softmax attention needs both); missing --", p.q ? "k" : "q"));
  return p;
}

Matrix<float> load_attention(const Csr& g, const QkPaths& paths) {
  if (!paths.given()) return {};
  npy::Header hq, hk;
  Buffer<float> q = npy::load_f32(*paths.q, &hq, 3);
  Buffer<float> k = npy::load_f32(*paths.k, &hk, 3);
  if (hq.shape != hk.shape)
    throw Error(cat(paths.q->string(), " has shape ", hq.shape_string(), " but ", paths.k->string(), " has ",
                    hk.shape_string(), "; Q and K must have one shape (N, H, D)"));
  const std::int64_t n = hq.shape[0], h = hq.shape[1], d = hq.shape[2];
  if (n != g.num_nodes())
    throw Error(cat(paths.q->string(), " has ", n, " tokens but the graph has ", g.num_nodes()));
  if (h < 1 || d < 1) throw Error(cat(paths.q->string(), ": empty dimension in shape ", hq.shape_string()));
  const auto qv = tensor3_view(static_cast<const float*>(q.data()), n, h, d);
  const auto kv = tensor3_view(static_cast<const float*>(k.data()), n, h, d);
  diffusion::check_finite(qv, paths.q->string().c_str());
  diffusion::check_finite(kv, paths.k->string().c_str());
  return diffusion::attention_weights(g, qv, kv);
}

void require_tokens(const Csr& g, const std::string& description, std::int64_t at_least, const char* why) {
  if (g.num_nodes() < at_least)
    throw Error(cat("the graph (", description, ") has ", g.num_nodes(), " token",
                    g.num_nodes() == 1 ? "" : "s", "; ", why, " needs at least ", at_least));
}

}  // namespace diffuser::cli
