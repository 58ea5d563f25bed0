// node_axpby on the CPU: a streaming elementwise pass over (N, H, D).
#include "isa_begin.hpp"  // first: the shared headers, then the level's target

#include "kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

void Kernels::node_axpby(float a, Tensor3View<const float> x, float b, Tensor3View<const float> y,
                         Tensor3View<float> out) {
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, out.n, 64), [&](const auto& r) {
    for (auto i = r.begin(); i < r.end(); ++i)
      for (std::int64_t h = 0; h < out.h; ++h) {
        const float* xs = x.at(i, h);
        const float* ys = y.at(i, h);
        float* o = out.at(i, h);
        for (std::int64_t t = 0; t < out.d; ++t) o[t] = a * xs[t] + b * ys[t];
      }
  });
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "isa_end.hpp"
