#include <cmath>

#include <diffuser/engine/random.hpp>

namespace diffuser::rng {

double normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  // Two independent uniforms from one index: the second uses the stream's complement.
  const double u1 = 1.0 - uniform(seed, stream, index);  // (0, 1]: log is finite
  const double u2 = uniform(seed, ~stream, index);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace diffuser::rng
