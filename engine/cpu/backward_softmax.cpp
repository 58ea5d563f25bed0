// Edge-softmax and score backward on the CPU. attention_backward runs two passes: over the
// forward rows (softmax backward of row i, then dq_i gathered while the row's dS is in cache) and
// over the reverse rows (dk_j, a transposed gather of dS with q).
#include "isa_begin.hpp"  // first: the shared headers, then the level's target

#include "backward_kernels.hpp"
#include "kernels.hpp"
#include "row_kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

void Kernels::edge_softmax_backward(const CsrView& g, MatrixView<const float> w, MatrixView<float> grad) {
  const std::int64_t H = w.cols;
  for_each_row_chunk(g, 8, [&](std::int64_t r0, std::int64_t r1) {
    Buffer<float> acc(H);
    for (std::int64_t i = r0; i < r1; ++i) {
      const auto b = g.row_ptr[i], e = g.row_ptr[i + 1];
      softmax_backward_row(w.data + b * H, grad.data + b * H, e - b, H, acc.data());
    }
  });
}

void Kernels::attention_backward(const CsrView& g, const ReverseView& rg, Tensor3View<const float> q,
                                 Tensor3View<const float> k, float scale, MatrixView<const float> w,
                                 MatrixView<float> grad, Tensor3View<float> dq, Tensor3View<float> dk) {
  const std::int64_t H = q.h;
  dispatch_head_dim(q.d, [&]<int D>() {
    for_each_row_chunk(g, 8, [&](std::int64_t r0, std::int64_t r1) {
      Buffer<float> acc(H * q.d + H);
      for (std::int64_t i = r0; i < r1; ++i) {
        const auto b = g.row_ptr[i], e = g.row_ptr[i + 1];
        softmax_backward_row(w.data + b * H, grad.data + b * H, e - b, H, acc.data() + H * q.d);
        if constexpr (D > 0)
          gather_row<D>(grad.data, H, k.data, k.stride_n, k.stride_h, g.col, b, e, scale, dq.row(i),
                        dq.stride_h, 0.0f, nullptr, 0, acc.data());
        else
          gather_row_any(grad.data, H, q.d, k.data, k.stride_n, k.stride_h, g.col, b, e, scale, dq.row(i),
                         dq.stride_h, 0.0f, nullptr, 0, acc.data());
      }
    });
  });
  if (dk.data) scatter_axpby(rg, grad, scale, q, 0.0f, {}, dk);
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "isa_end.hpp"
