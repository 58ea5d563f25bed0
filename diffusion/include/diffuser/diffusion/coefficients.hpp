// The hop weights of attention diffusion, Z = sum_k theta_k A^k V for k = 0..K: personalized
// PageRank (the authors' recursion), the heat kernel, a user's list, or plain attention (K = 0).
#pragma once

#include <string>
#include <vector>

namespace diffuser::diffusion {

class Coefficients {
 public:
  enum class Kind { ppr, heat, custom };

  // PPR: Z0 = V, Z_{k+1} = (1 - alpha) A Z_k + alpha V for K hops, i.e. theta_k = alpha (1-alpha)^k
  // for k < K and theta_K = (1 - alpha)^K. hops = 0 means plain sparse attention, Z = A V.
  static Coefficients ppr(int hops, double alpha);
  // Heat kernel: theta_k = e^-t t^k / k! for k < K, the remaining mass on A^K.
  static Coefficients heat(int hops, double t);
  // theta_0..theta_K given directly (K = size - 1).
  static Coefficients custom(std::vector<double> theta);

  Kind kind() const { return kind_; }
  int hops() const { return hops_; }
  double alpha() const { return alpha_; }
  double heat_time() const { return t_; }
  // True for ppr with hops = 0: one attention pass, no diffusion.
  bool plain_attention() const { return kind_ == Kind::ppr && hops_ == 0; }
  // theta_0..theta_K (for plain attention: {0, 1}, i.e. Z = A V).
  const std::vector<double>& theta() const { return theta_; }
  // "ppr(K=5, alpha=0.1)", "heat(K=8, t=2)", "theta=[0.5, 0.3, 0.2]", "plain attention (K=0)".
  std::string describe() const;

 private:
  Kind kind_ = Kind::ppr;
  int hops_ = 0;
  double alpha_ = 0, t_ = 0;
  std::vector<double> theta_;
};

// Largest hop count accepted (each hop is a full pass over the graph).
inline constexpr int kMaxHops = 256;

}  // namespace diffuser::diffusion
