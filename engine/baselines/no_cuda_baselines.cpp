// The GPU baselines of a build without CUDA: each explains that, none crashes.
#include <diffuser/engine/error.hpp>

#include "../cuda/backend.hpp"

namespace diffuser::cuda {

namespace {
[[noreturn]] void unavailable() {
  throw Error(
      "this build of diffuser has no CUDA backend (configure with -DDIFFUSER_CUDA=ON on a machine with "
      "nvcc)");
}
}  // namespace

baselines::Timing cusparse_forward(const Csr&, Tensor3View<const float>, Tensor3View<const float>,
                                   Tensor3View<const float>, int, float, Tensor3View<float>, int) {
  unavailable();
}
baselines::Timing dense_forward(const Csr&, Tensor3View<const float>, Tensor3View<const float>,
                                Tensor3View<const float>, int, float, Tensor3View<float>, int, std::int64_t) {
  unavailable();
}

}  // namespace diffuser::cuda
