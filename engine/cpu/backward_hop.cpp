// One diffusion hop's backward on the CPU, fused over the reverse graph: for source row j, the
// gradient rows p_i of its destinations are read once and serve both the transposed gather
// (dx_j += a w_e p_i) and the edge-weight gradient (dw_e += a <p_i, x_j>).
#include "isa_begin.hpp"  // first: the shared headers, then the level's target

#include "backward_kernels.hpp"
#include "kernels.hpp"
#include "row_kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

namespace {

// Source row j: first the transposed gather (out_j = a sum_e w_e p_i + c y_j, the hop's row
// kernel), then the weight gradients of the same edges (dw_e += a <p_i, x_j>, the score kernel)
// while the row's p rows are still in cache. Two loops, each with its accumulators in registers,
// run faster than one loop doing both (docs/ARCHITECTURE.md, "CPU backward").
template <int D, bool kPerm>
void hop_row(const float* w, const std::int64_t* perm, std::int64_t H, const float* p, std::int64_t p_sn,
             std::int64_t p_sh, const float* x_row, std::int64_t x_sh, const std::int32_t* col,
             std::int64_t begin, std::int64_t end, float a, float* dw, float* acc, float* out_row,
             std::int64_t o_sh, float c, const float* y_row, std::int64_t y_sh) {
  const auto at = [begin](std::int64_t t) { return begin + t; };
  const auto weight_row = [perm](std::int64_t e) {
    if constexpr (kPerm) return perm[e];
    return e;
  };
  gather_row<D>(w, H, p, p_sn, p_sh, col, begin, end, a, out_row, o_sh, c, y_row, y_sh, acc, weight_row);
  dot_edges<D>(
      x_row, x_sh, p, p_sn, p_sh, col, at, end - begin, H, a,
      [dw, H, weight_row](std::int64_t e, std::int64_t h, float s) { dw[weight_row(e) * H + h] += s; });
}

// Any D: the weight gradients of source row j's edges (its gather is gather_row_any), plain loops.
void dots_any(const std::int64_t* perm, std::int64_t H, std::int64_t D, const float* p, std::int64_t p_sn,
              std::int64_t p_sh, const float* x_row, std::int64_t x_sh, const std::int32_t* col,
              std::int64_t begin, std::int64_t end, float a, float* dw) {
  for (std::int64_t t = begin; t < end; ++t) {
    const float* pr = p + col[t] * p_sn;
    float* dwe = dw + (perm ? perm[t] : t) * H;
    for (std::int64_t h = 0; h < H; ++h) {
      float dot = 0.0f;
      for (std::int64_t u = 0; u < D; ++u) dot += pr[h * p_sh + u] * x_row[h * x_sh + u];
      dwe[h] += a * dot;
    }
  }
}

}  // namespace

void Kernels::hop_backward(const ReverseView& rg, MatrixView<const float> w, float a,
                           Tensor3View<const float> p, Tensor3View<const float> x, float c,
                           Tensor3View<const float> y, MatrixView<float> dw, Tensor3View<float> out,
                           const ops::RowPass& pass) {
  const CsrView& t = rg.t;
  const std::int64_t H = p.h, Dim = p.d;
  const PassRows in_pass(pass);
  const auto weight_row = [perm = rg.perm](std::int64_t e) { return perm ? perm[e] : e; };
  dispatch_head_dim(Dim, [&]<int D>() {
    for_each_row_chunk(t, 8, [&](std::int64_t r0, std::int64_t r1) {
      Buffer<float> acc(H * Dim);
      for (std::int64_t j = r0; j < r1; ++j) {
        if (!in_pass.row(j)) continue;
        const auto rb = t.row_ptr[j], re = t.row_ptr[j + 1];
        if constexpr (D > 0) {
          (rg.perm ? hop_row<D, true> : hop_row<D, false>)(w.data, rg.perm, H, p.data, p.stride_n, p.stride_h,
                                                           x.row(j), x.stride_h, t.col, rb, re, a, dw.data,
                                                           acc.data(), out.row(j), out.stride_h, c,
                                                           c != 0.0f ? y.row(j) : nullptr, y.stride_h);
          continue;
        }
        gather_row_any(w.data, H, Dim, p.data, p.stride_n, p.stride_h, t.col, rb, re, a, out.row(j),
                       out.stride_h, c, c != 0.0f ? y.row(j) : nullptr, y.stride_h, acc.data(), weight_row);
        dots_any(rg.perm, H, Dim, p.data, p.stride_n, p.stride_h, x.row(j), x.stride_h, t.col, rb, re, a,
                 dw.data);
      }
    });
  });
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "isa_end.hpp"
