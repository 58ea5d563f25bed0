// The CUDA backend of a build without CUDA: every entry point explains that, none crashes.
#include <diffuser/engine/error.hpp>

#include "../cuda/backend.hpp"

namespace diffuser::cuda {

namespace {
[[noreturn]] void unavailable() {
  throw Error("this build of diffuser has no CUDA backend (configure with -DDIFFUSER_CUDA=ON on a "
              "machine with nvcc)");
}
}  // namespace

bool available(std::string* why) {
  if (why) *why = "this build of diffuser has no CUDA backend";
  return false;
}
std::string describe() { return "no CUDA backend in this build"; }

void* alloc(std::size_t) { unavailable(); }
void free(void*) noexcept {}
void copy(void*, bool, const void*, bool, std::size_t) { unavailable(); }
void memset_zero(void*, std::size_t) { unavailable(); }
void synchronize() {}

void edge_dot(const CsrView&, Tensor3View<const float>, Tensor3View<const float>, float,
              MatrixView<float>) { unavailable(); }
void edge_softmax(const CsrView&, MatrixView<float>, Span<const std::uint8_t>) { unavailable(); }
void gather_sum(const CsrView&, MatrixView<const float>, Tensor3View<const float>, Tensor3View<float>) {
  unavailable();
}
void node_axpby(float, Tensor3View<const float>, float, Tensor3View<const float>, Tensor3View<float>) {
  unavailable();
}
void edge_attention(const CsrView&, Tensor3View<const float>, Tensor3View<const float>, float,
                    Span<const std::uint8_t>, MatrixView<float>) { unavailable(); }
void gather_axpby(const CsrView&, MatrixView<const float>, float, Tensor3View<const float>, float,
                  Tensor3View<const float>, Tensor3View<float>) { unavailable(); }
std::int64_t find_non_finite(Tensor3View<const float>) { unavailable(); }

}  // namespace diffuser::cuda
