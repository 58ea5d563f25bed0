// The diffusion coefficients from the package's keyword arguments (hops, alpha, theta, heat), with
// the CLI's rules: theta gives theta_0..theta_K itself, heat uses hops, PPR otherwise.
#pragma once

#include <optional>
#include <vector>

#include <diffuser/diffusion/coefficients.hpp>

namespace diffuser::python {

// The Python layer passes hops/alpha only when the caller set them apart from theta/heat, so a
// conflict names the argument to drop. Values are checked by diffusion::Coefficients.
diffusion::Coefficients coefficients(int hops, double alpha, const std::optional<std::vector<double>>& theta,
                                     const std::optional<double>& heat);

}  // namespace diffuser::python
