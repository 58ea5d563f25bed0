// One diffusion hop on the CPU, fused: out = a * (W x) + b * y in a single pass over the edges.
#include "isa_begin.hpp"  // first: the shared headers, then the level's target

#include "hub_kernels.hpp"
#include "kernels.hpp"
#include "panels_kernels.hpp"
#include "row_kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

void Kernels::gather_axpby(const CsrView& g, const Tuning& tuning, MatrixView<const float> w, float a,
                           Tensor3View<const float> x, float b, Tensor3View<const float> y,
                           Tensor3View<float> out, const ops::RowPass& pass) {
  const PassRows in_pass(pass);
  dispatch_head_dim(x.d, [&]<int D>() {
    const HubRows hubs = D > 0 ? find_hub_rows(g, tuning) : HubRows{};
    if constexpr (D > 0) {
      if (const auto plan = panel_plan(g, hubs, tuning)) {  // rows sharing sources: dense panels
        panel_gather_axpby<D>(g, *plan, w.data, a, x, b, y, out, in_pass);
        if (!panel_hub_gather_axpby<D>(g, *plan, w.data, a, x, b, y, out, in_pass))
          gather_hub_rows<D>(g, hubs, w.data, x, a, b, y, out, in_pass);
        return;
      }
    }
    for_each_row_chunk(g, 8, [&](std::int64_t r0, std::int64_t r1) {
      Buffer<float> acc(x.h * x.d);  // the row accumulator, kept in L1
      for (std::int64_t i = r0; i < r1; ++i) {
        if (hubs.is_hub(g, i) || !in_pass.row(i)) continue;
        const float* y_row = b != 0.0f ? y.row(i) : nullptr;
        const auto rb = g.row_ptr[i], re = g.row_ptr[i + 1];
        if constexpr (D > 0)
          gather_row<D>(w.data, x.h, x.data, x.stride_n, x.stride_h, g.col, rb, re, a, out.row(i),
                        out.stride_h, b, y_row, y.stride_h, acc.data());
        else
          gather_row_any(w.data, x.h, x.d, x.data, x.stride_n, x.stride_h, g.col, rb, re, a, out.row(i),
                         out.stride_h, b, y_row, y.stride_h, acc.data());
      }
    });
    if constexpr (D > 0) gather_hub_rows<D>(g, hubs, w.data, x, a, b, y, out, in_pass);
  });
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "isa_end.hpp"
