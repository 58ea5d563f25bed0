// edge_attention on the GPU, bf16 Q/K (float32 dot products and weights).
#include "backend.hpp"
#include "score_dispatch.cuh"

namespace diffuser::cuda {

void edge_attention(const CsrView& g, Tensor3View<const bf16> q, Tensor3View<const bf16> k, float scale,
                    Span<const std::uint8_t> mask, float* weights, EdgeStrides ws) {
  run_scores<bf16, true>(g, q, k, scale, mask.data, weights, ws.se, ws.sh);
}

}  // namespace diffuser::cuda
