// The CUDA bitset entry points of a build without CUDA: each explains that, none crashes.
#include <diffuser/engine/error.hpp>

#include "../cuda/backend.hpp"

namespace diffuser::cuda {

namespace {
[[noreturn]] void unavailable() {
  throw Error(
      "this build of diffuser has no CUDA backend (configure with -DDIFFUSER_CUDA=ON on a "
      "machine with nvcc)");
}
}  // namespace

void frontier_pull(const CsrView&, const std::uint64_t*, std::uint64_t*, std::int64_t) {
  unavailable();
}
void frontier_advance(const std::uint64_t*, std::uint64_t*, std::uint64_t*, std::int64_t, std::int64_t,
                      std::int64_t*) {
  unavailable();
}

}  // namespace diffuser::cuda
