#include <cmath>

#include <diffuser/diffusion/coefficients.hpp>
#include <diffuser/engine/error.hpp>

namespace diffuser::diffusion {

namespace {
void check_hops(int hops) {
  if (hops < 0 || hops > kMaxHops) throw UsageError(cat("hops must be in [0, ", kMaxHops, "], got ", hops));
}
}  // namespace

Coefficients Coefficients::ppr(int hops, double alpha) {
  check_hops(hops);
  if (!(alpha >= 0.0 && alpha <= 1.0)) throw UsageError(cat("alpha must be in [0, 1], got ", alpha));
  Coefficients c;
  c.kind_ = Kind::ppr;
  c.hops_ = hops;
  c.alpha_ = alpha;
  if (hops == 0) {
    c.theta_ = {0.0, 1.0};  // plain attention: Z = A V
  } else {
    for (int k = 0; k < hops; ++k) c.theta_.push_back(alpha * std::pow(1.0 - alpha, k));
    c.theta_.push_back(std::pow(1.0 - alpha, hops));
  }
  return c;
}

Coefficients Coefficients::heat(int hops, double t) {
  check_hops(hops);
  if (!(t >= 0.0 && std::isfinite(t))) throw UsageError(cat("heat time must be finite and >= 0, got ", t));
  Coefficients c;
  c.kind_ = Kind::heat;
  c.hops_ = hops;
  c.t_ = t;
  double term = std::exp(-t), used = 0.0;
  for (int k = 0; k < hops; ++k) {
    c.theta_.push_back(term);
    used += term;
    term *= t / (k + 1);
  }
  c.theta_.push_back(1.0 - used);  // the tail of the series lands on A^K
  return c;
}

Coefficients Coefficients::custom(std::vector<double> theta) {
  if (theta.empty()) throw UsageError("theta needs at least one coefficient (theta_0)");
  check_hops(static_cast<int>(theta.size()) - 1);
  for (std::size_t k = 0; k < theta.size(); ++k)
    if (!std::isfinite(theta[k])) throw UsageError(cat("theta_", k, " is not a finite number"));
  Coefficients c;
  c.kind_ = Kind::custom;
  c.hops_ = static_cast<int>(theta.size()) - 1;
  c.theta_ = std::move(theta);
  return c;
}

std::string Coefficients::describe() const {
  switch (kind_) {
    case Kind::ppr:
      if (hops_ == 0) return "plain sparse attention (K=0)";
      return cat("ppr (K=", hops_, ", alpha=", alpha_, ")");
    case Kind::heat:
      return cat("heat kernel (K=", hops_, ", t=", t_, ")");
    case Kind::custom: {
      std::string s = cat("theta (K=", hops_, ") = [");
      for (std::size_t k = 0; k < theta_.size(); ++k) s += cat(k ? ", " : "", theta_[k]);
      return s + "]";
    }
  }
  return "?";
}

}  // namespace diffuser::diffusion
