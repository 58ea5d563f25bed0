// The CUDA dense entry points of a build without CUDA: each explains that, none crashes.
#include <diffuser/engine/error.hpp>

#include "../cuda/dense_backend.hpp"

namespace diffuser::cuda::dense {

namespace {
[[noreturn]] void unavailable() {
  throw Error(
      "this build of diffuser has no CUDA backend (configure with -DDIFFUSER_CUDA=ON on a "
      "machine with nvcc)");
}
}  // namespace

void gemm(bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*, std::int64_t,
          const float*, std::int64_t, float, float*, std::int64_t) {
  unavailable();
}
void bias_add(MatrixView<float>, const float*) {
  unavailable();
}
void column_sums(MatrixView<const float>, float*, bool) {
  unavailable();
}
void column_dot(MatrixView<const float>, MatrixView<const float>, float*, bool) {
  unavailable();
}
void layer_norm_forward(MatrixView<const float>, const float*, const float*, float, MatrixView<float>, float*,
                        float*) {
  unavailable();
}
void layer_norm_backward(MatrixView<const float>, const float*, const float*, MatrixView<const float>,
                         MatrixView<float>, bool) {
  unavailable();
}
void layer_norm_apply(MatrixView<const float>, const float*, const float*, MatrixView<float>) {
  unavailable();
}
void gelu_forward(MatrixView<const float>, MatrixView<float>) {
  unavailable();
}
void gelu_backward(MatrixView<const float>, MatrixView<const float>, MatrixView<float>) {
  unavailable();
}
void tanh_forward(MatrixView<const float>, MatrixView<float>) {
  unavailable();
}
void tanh_backward(MatrixView<const float>, MatrixView<const float>, MatrixView<float>) {
  unavailable();
}
void axpby(float, const float*, float, const float*, float*, std::int64_t) {
  unavailable();
}

}  // namespace diffuser::cuda::dense
