// The transposed gather on the CPU over forward-order weights (ops::scatter_axpby sends
// reverse-order ones to the hop's gather): one task per balanced chunk of reverse-graph rows, so
// each output row (and each edge it reads) has exactly one writer and the result is deterministic;
// each row is the hop's row gather reading its weights through the permutation.
#include "isa_begin.hpp"  // first: the shared headers, then the level's target

#include "backward_kernels.hpp"
#include "kernels.hpp"
#include "row_kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

void Kernels::scatter_axpby(const ReverseView& rg, MatrixView<const float> w, float a,
                            Tensor3View<const float> y, float b, Tensor3View<const float> z,
                            Tensor3View<float> out) {
  const CsrView& t = rg.t;
  const auto weight_row = [perm = rg.perm](std::int64_t e) { return perm[e]; };
  dispatch_head_dim(y.d, [&]<int D>() {
    for_each_row_chunk(t, 8, [&](std::int64_t r0, std::int64_t r1) {
      Buffer<float> acc(y.h * y.d);
      for (std::int64_t j = r0; j < r1; ++j) {
        const float* z_row = b != 0.0f ? z.row(j) : nullptr;
        const auto rb = t.row_ptr[j], re = t.row_ptr[j + 1];
        if constexpr (D > 0)
          gather_row<D>(w.data, y.h, y.data, y.stride_n, y.stride_h, t.col, rb, re, a, out.row(j),
                        out.stride_h, b, z_row, z.stride_h, acc.data(), weight_row);
        else
          gather_row_any(w.data, y.h, y.d, y.data, y.stride_n, y.stride_h, t.col, rb, re, a, out.row(j),
                         out.stride_h, b, z_row, z.stride_h, acc.data(), weight_row);
      }
    });
  });
}

void Kernels::permute_edges(const ReverseView& rg, MatrixView<const float> in, MatrixView<float> out,
                            bool inverse) {
  const std::int64_t H = in.cols;
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, in.rows, 4096), [&](const auto& r) {
    for (auto t = r.begin(); t < r.end(); ++t) {
      const float* src = inverse ? in.data + t * H : in.data + rg.perm[t] * H;
      float* dst = inverse ? out.data + rg.perm[t] * H : out.data + t * H;
      for (std::int64_t h = 0; h < H; ++h) dst[h] = src[h];
    }
  });
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "isa_end.hpp"
