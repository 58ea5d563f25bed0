#include "coefficients.hpp"

#include <diffuser/engine/error.hpp>

namespace diffuser::python {

diffusion::Coefficients coefficients(int hops, double alpha, const std::optional<std::vector<double>>& theta,
                                     const std::optional<double>& heat) {
  if (theta && heat) throw Error("theta and heat are mutually exclusive");
  if (theta) return diffusion::Coefficients::custom(*theta);
  if (heat) return diffusion::Coefficients::heat(hops, *heat);
  return diffusion::Coefficients::ppr(hops, alpha);
}

}  // namespace diffuser::python
