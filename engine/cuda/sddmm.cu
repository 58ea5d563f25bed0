// edge_dot on the GPU: the score kernels without the softmax, edge-major output.
#include "backend.hpp"
#include "score_dispatch.cuh"

namespace diffuser::cuda {

void edge_dot(const CsrView& g, Tensor3View<const float> q, Tensor3View<const float> k, float scale,
              MatrixView<float> scores) {
  run_scores<float, false>(g, q, k, scale, nullptr, scores.data, scores.cols, 1);
}

void edge_dot(const CsrView& g, Tensor3View<const bf16> q, Tensor3View<const bf16> k, float scale,
              MatrixView<float> scores) {
  run_scores<bf16, false>(g, q, k, scale, nullptr, scores.data, scores.cols, 1);
}

}  // namespace diffuser::cuda
