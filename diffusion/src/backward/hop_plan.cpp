// The hop list of the forward (the same recursion as diffuse_values) and the dropout streams.
#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/engine/random.hpp>

namespace diffuser::diffusion {

HopPlan hop_plan(const Coefficients& c) {
  HopPlan p;
  if (c.plain_attention()) {
    p.a = {1.0f};
    p.b = {0.0f};
    return p;
  }
  const auto& theta = c.theta();
  const int K = c.hops();
  if (K == 0) {
    p.v_scale = static_cast<float>(theta[0]);
    return p;
  }
  for (int k = 1; k <= K; ++k) {
    if (c.kind() == Coefficients::Kind::ppr) {
      p.a.push_back(static_cast<float>(1.0 - c.alpha()));
      p.b.push_back(static_cast<float>(c.alpha()));
    } else {
      p.a.push_back(k == 1 ? static_cast<float>(theta[K]) : 1.0f);
      p.b.push_back(static_cast<float>(theta[K - k]));
    }
  }
  return p;
}

// Sub-streams of the caller's stream: 0 for the weights, k for hop k.
std::uint64_t DiffusionDropout::weights_stream() const {
  return rng::mix64(stream ^ 0x5745494748545300ull);
}
std::uint64_t DiffusionDropout::hop_stream(int k) const {
  return rng::mix64(stream ^ (0x484F500000000000ull + static_cast<std::uint64_t>(k)));
}

}  // namespace diffuser::diffusion
