// One diffusion hop on the GPU, float32 rows: out = a * (W x) + b * y (hop_kernels.cuh).
#include "backend.hpp"
#include "hop_dispatch.cuh"

namespace diffuser::cuda {

void gather_axpby(const CsrView& g, const float* w, EdgeStrides ws, float a, Tensor3View<const float> x,
                  float b, Tensor3View<const float> y, Tensor3View<float> out) {
  run_hop<float>(g, w, ws.se, ws.sh, a, x, b, y, out);
}

}  // namespace diffuser::cuda
