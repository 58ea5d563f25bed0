// edge_softmax on the CPU: each destination row normalised in place, vectorised across heads.
#include "isa_begin.hpp"  // first: the shared headers, then the level's target

#include "kernels.hpp"
#include "row_kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

void Kernels::edge_softmax(const CsrView& g, MatrixView<float> scores, Span<const std::uint8_t> mask) {
  for_each_row_chunk(g, 8, [&](std::int64_t r0, std::int64_t r1) {
    Buffer<float> scratch(softmax_scratch_floats(scores.cols));
    for (std::int64_t i = r0; i < r1; ++i)
      softmax_row(scores.data, g.row_ptr[i], g.row_ptr[i + 1], scores.cols, g.col, mask.data, i,
                  scratch.data());
  });
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "isa_end.hpp"
