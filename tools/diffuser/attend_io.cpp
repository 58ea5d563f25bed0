#include <cmath>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops.hpp>

#include "attend_io.hpp"

namespace diffuser::cli {

namespace fs = std::filesystem;

namespace {

npy::Header feature_header(const fs::path& path, const char* role) {
  npy::Header h = npy::read_header(path);
  if (h.dtype != npy::DType::f4 && h.dtype != npy::DType::f8)
    throw Error(
        cat(path.string(), ": ", role, " must be float32 or float64, got dtype ", npy::dtype_descr(h.dtype)));
  if (h.shape.size() != 3)
    throw Error(cat(path.string(), ": ", role, " must be a 3-dimensional array (N, H, D), got shape ",
                    h.shape_string()));
  if (h.shape[0] == 0)
    throw Error(cat(path.string(), ": ", role, " has shape ", h.shape_string(), ", so N = 0 tokens"));
  if (h.shape[1] == 0 || h.shape[2] == 0)
    throw Error(cat(path.string(), ": ", role, " has an empty head or feature dimension ", h.shape_string()));
  return h;
}

}  // namespace

AttendInputs inspect_inputs(fs::path q, fs::path k, fs::path v, std::optional<fs::path> mask) {
  AttendInputs in;
  in.q = std::move(q);
  in.k = std::move(k);
  in.v = std::move(v);
  in.mask = std::move(mask);
  in.hq = feature_header(in.q, "Q");
  in.hk = feature_header(in.k, "K");
  in.hv = feature_header(in.v, "V");
  if (in.hk.shape != in.hq.shape)
    throw Error(cat(in.k.string(), ": K has shape ", in.hk.shape_string(), " but Q (", in.q.string(),
                    ") has ", in.hq.shape_string(), "; Q, K and V must have the same shape (N, H, D)"));
  if (in.hv.shape != in.hq.shape)
    throw Error(cat(in.v.string(), ": V has shape ", in.hv.shape_string(), " but Q (", in.q.string(),
                    ") has ", in.hq.shape_string(), "; Q, K and V must have the same shape (N, H, D)"));
  in.n = in.hq.shape[0];
  in.h = in.hq.shape[1];
  in.d = in.hq.shape[2];
  if (in.mask) {
    const fs::path& m = *in.mask;
    in.hmask = npy::read_header(m);
    if (in.hmask.dtype == npy::DType::f4 || in.hmask.dtype == npy::DType::f8)
      throw Error(cat(m.string(), ": the mask must be an integer or bool array, got dtype ",
                      npy::dtype_descr(in.hmask.dtype)));
    if (in.hmask.shape.size() != 1 || in.hmask.shape[0] != in.n)
      throw Error(cat(m.string(), ": the mask must have shape (", in.n, ",) like the ", in.n,
                      " tokens of Q, got ", in.hmask.shape_string()));
  }
  return in;
}

Buffer<float> load_features(const fs::path& path, const AttendInputs& in) {
  Buffer<float> b = npy::load_f32(path, nullptr, 3);
  DIFFUSER_CHECK(b.size() == in.n * in.h * in.d, path.string(), ": the file changed while it was read");
  const auto view = tensor3_view<const float>(b.data(), in.n, in.h, in.d);
  const std::int64_t bad = ops::find_non_finite(view);
  if (bad >= 0) {
    const float x = b[bad];
    const char* what = std::isnan(x) ? "NaN" : (x > 0 ? "+Inf" : "-Inf");
    throw Error(cat(path.string(), ": element [", bad / (in.h * in.d), ", ", (bad / in.d) % in.h, ", ",
                    bad % in.d, "] is ", what, "; inputs must be finite"));
  }
  return b;
}

Buffer<std::uint8_t> load_mask(const AttendInputs& in) {
  const std::vector<std::int64_t> values = npy::load_i64(*in.mask);
  DIFFUSER_CHECK(static_cast<std::int64_t>(values.size()) == in.n, in.mask->string(),
                 ": the file changed while it was read");
  Buffer<std::uint8_t> m(in.n);
  for (std::int64_t i = 0; i < in.n; ++i) m[i] = values[static_cast<std::size_t>(i)] != 0 ? 1 : 0;
  return m;
}

std::string describe_input(const fs::path& path, const npy::Header& h) {
  return cat(path.string(), " ", h.shape_string(), " ", npy::dtype_descr(h.dtype));
}

std::vector<std::int32_t> edge_pairs(const Csr& g) {
  std::vector<std::int32_t> out(static_cast<std::size_t>(g.num_edges()) * 2);
  std::size_t e = 0;
  for (std::int64_t i = 0; i < g.num_nodes(); ++i)
    for (std::int32_t j : g.neighbors(i)) {
      out[e++] = j;
      out[e++] = static_cast<std::int32_t>(i);
    }
  return out;
}

diffusion::Coefficients coefficients_from(std::optional<std::int64_t> hops, std::optional<double> alpha,
                               std::optional<std::vector<double>> theta, std::optional<double> heat) {
  if (theta && heat) throw UsageError("--theta and --heat are mutually exclusive");
  if (theta && (hops || alpha))
    throw UsageError(cat("--theta gives theta_0..theta_K itself (here K = ", theta->size() - 1, "); drop --",
                         hops ? "hops" : "alpha"));
  if (heat && alpha) throw UsageError("--alpha applies to the PPR coefficients, not to --heat");
  if (hops && (*hops < 0 || *hops > diffusion::kMaxHops))
    throw UsageError(cat("--hops must be in [0, ", diffusion::kMaxHops, "], got ", *hops));
  if (alpha && !(*alpha >= 0.0 && *alpha <= 1.0))
    throw UsageError(cat("--alpha must be in [0, 1], got ", *alpha));
  if (heat && !(*heat >= 0.0)) throw UsageError(cat("--heat must be >= 0, got ", *heat));
  if (theta && static_cast<std::int64_t>(theta->size()) - 1 > diffusion::kMaxHops)
    throw UsageError(cat("--theta has ", theta->size(), " values; at most ", diffusion::kMaxHops + 1,
                         " (K <= ", diffusion::kMaxHops, ")"));
  const int k = static_cast<int>(hops.value_or(5));
  if (theta) return diffusion::Coefficients::custom(*theta);
  if (heat) return diffusion::Coefficients::heat(k, *heat);
  return diffusion::Coefficients::ppr(k, alpha.value_or(0.1));
}

}  // namespace diffuser::cli
