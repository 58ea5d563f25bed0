// One diffusion hop on the GPU, bf16 rows (float32 weights and accumulation, one rounding on store).
#include "backend.hpp"
#include "hop_dispatch.cuh"

namespace diffuser::cuda {

void gather_axpby(const CsrView& g, const float* w, EdgeStrides ws, float a, Tensor3View<const bf16> x,
                  float b, Tensor3View<const bf16> y, Tensor3View<bf16> out) {
  run_hop<bf16>(g, w, ws.se, ws.sh, a, x, b, y, out);
}

}  // namespace diffuser::cuda
