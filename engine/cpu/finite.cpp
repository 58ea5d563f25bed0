// find_non_finite on the CPU: the first NaN/Inf (flat index) or -1.
#include "isa_begin.hpp"  // first: the shared headers, then the level's target

#include "kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

std::int64_t Kernels::find_non_finite(Tensor3View<const float> x) {
  return tbb::parallel_reduce(
      tbb::blocked_range<std::int64_t>(0, x.n, 256), std::int64_t{-1},
      [&](const tbb::blocked_range<std::int64_t>& r, std::int64_t found) {
        if (found >= 0 && found < r.begin() * x.h * x.d) return found;
        for (auto i = r.begin(); i < r.end(); ++i)
          for (std::int64_t h = 0; h < x.h; ++h) {
            const float* p = x.at(i, h);
            bool bad = false;
            for (std::int64_t t = 0; t < x.d; ++t) bad |= !std::isfinite(p[t]);
            if (bad)
              for (std::int64_t t = 0; t < x.d; ++t)
                if (!std::isfinite(p[t])) return (i * x.h + h) * x.d + t;
          }
        return found;
      },
      [](std::int64_t a, std::int64_t b) { return a < 0 ? b : (b < 0 ? a : std::min(a, b)); });
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "isa_end.hpp"
