// The CUDA gradient entry points of a build without CUDA: each explains that, none crashes.
#include <diffuser/engine/error.hpp>

#include "../cuda/backward_backend.hpp"

namespace diffuser::cuda::grad {

namespace {
[[noreturn]] void unavailable() {
  throw Error(
      "this build of diffuser has no CUDA backend (configure with -DDIFFUSER_CUDA=ON on a "
      "machine with nvcc)");
}
}  // namespace

void scatter_axpby(const ReverseView&, MatrixView<const float>, float, Tensor3View<const float>, float,
                   Tensor3View<const float>, Tensor3View<float>) {
  unavailable();
}
void edge_softmax_backward(const CsrView&, MatrixView<const float>, MatrixView<float>) {
  unavailable();
}
void hop_backward(const ReverseView&, MatrixView<const float>, float, Tensor3View<const float>,
                  Tensor3View<const float>, float, Tensor3View<const float>, MatrixView<float>,
                  Tensor3View<float>) {
  unavailable();
}
void attention_backward(const CsrView&, const ReverseView&, Tensor3View<const float>,
                        Tensor3View<const float>, float, MatrixView<const float>, MatrixView<float>,
                        Tensor3View<float>, Tensor3View<float>) {
  unavailable();
}
void permute_edges(const ReverseView&, MatrixView<const float>, MatrixView<float>, bool) {
  unavailable();
}
void dropout(Tensor3View<float>, float, std::uint64_t, std::uint64_t, ops::HeadSlice) {
  unavailable();
}
void dropout_edges(MatrixView<float>, bool, float, std::uint64_t, std::uint64_t, ops::HeadSlice) {
  unavailable();
}

}  // namespace diffuser::cuda::grad
