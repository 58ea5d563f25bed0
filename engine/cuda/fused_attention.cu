// edge_attention on the GPU, float32 Q/K: scores and softmax in one kernel (score_kernels.cuh).
#include "backend.hpp"
#include "score_dispatch.cuh"

namespace diffuser::cuda {

void edge_attention(const CsrView& g, Tensor3View<const float> q, Tensor3View<const float> k, float scale,
                    Span<const std::uint8_t> mask, float* weights, EdgeStrides ws) {
  run_scores<float, true>(g, q, k, scale, mask.data, weights, ws.se, ws.sh);
}

}  // namespace diffuser::cuda
