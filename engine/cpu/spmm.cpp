// gather_sum on the CPU: out_i = sum over incoming edges of w_e * x_src, per head.
#include "backend.hpp"
#include "partition.hpp"
#include "row_kernels.hpp"

namespace diffuser::cpu {

void gather_sum(const CsrView& g, MatrixView<const float> w, Tensor3View<const float> x, Tensor3View<float> out) {
  gather_axpby(g, w, 1.0f, x, 0.0f, {}, out);
}

}  // namespace diffuser::cpu
