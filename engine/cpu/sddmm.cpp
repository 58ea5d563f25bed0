// edge_dot on the CPU: one task per balanced chunk of destination rows.
#include "isa_begin.hpp"  // first: the shared headers, then the level's target

#include "kernels.hpp"
#include "row_kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

void Kernels::edge_dot(const CsrView& g, Tensor3View<const float> q, Tensor3View<const float> k, float scale,
                       MatrixView<float> scores) {
  dispatch_head_dim(q.d, [&]<int D>() {
    for_each_row_chunk(g, 8, [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t i = r0; i < r1; ++i) {
        const auto b = g.row_ptr[i], e = g.row_ptr[i + 1];
        if constexpr (D > 0)
          score_row<D>(q.row(i), q.stride_h, k.data, k.stride_n, k.stride_h, g.col, b, e, q.h, scale,
                       scores.data);
        else
          score_row_any(q.row(i), q.stride_h, k.data, k.stride_n, k.stride_h, g.col, b, e, q.h, q.d, scale,
                        scores.data);
      }
    });
  });
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "isa_end.hpp"
