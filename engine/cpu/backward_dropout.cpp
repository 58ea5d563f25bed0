// Dropout on the CPU: the keep mask of every element is recomputed from (seed, stream, index), so
// nothing is stored and the forward and backward passes (and the GPU) agree bit for bit. The index
// is the element's logical one in the whole tensor (ops::HeadSlice: a head group's view draws the
// whole tensor's masks for its heads).
#include "isa_begin.hpp"  // first: the shared headers, then the level's target

#include "backward_kernels.hpp"
#include "kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

void Kernels::dropout(Tensor3View<float> x, float p, std::uint64_t seed, std::uint64_t stream,
                      ops::HeadSlice slice) {
  const std::uint32_t thr = ops::dropout_threshold(p);
  const std::uint64_t key = ops::dropout_key(seed, stream);
  const float scale = 1.0f / (1.0f - p);
  const std::int64_t H = slice.heads, h0 = slice.offset;
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, x.n, 64), [&](const auto& r) {
    for (auto i = r.begin(); i < r.end(); ++i)
      for (std::int64_t h = 0; h < x.h; ++h) {
        float* row = x.at(i, h);
        const auto base = static_cast<std::uint64_t>((i * H + h0 + h) * x.d);
        for (std::int64_t t = 0; t < x.d; ++t)
          row[t] =
              ops::dropout_keep_key(key, base + static_cast<std::uint64_t>(t), thr) ? row[t] * scale : 0.0f;
      }
  });
}

void Kernels::dropout_edges(MatrixView<float> w, bool head_major, float p, std::uint64_t seed,
                            std::uint64_t stream, ops::HeadSlice slice) {
  const std::uint32_t thr = ops::dropout_threshold(p);
  const std::uint64_t key = ops::dropout_key(seed, stream);
  const float scale = 1.0f / (1.0f - p);
  const std::int64_t H = slice.heads, h0 = slice.offset;
  if (!head_major) {
    if (w.cols == H) {  // the whole tensor, flat: logical index = position
      const std::int64_t count = w.rows * w.cols;
      tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, count, 16384), [&](const auto& r) {
        for (auto f = r.begin(); f < r.end(); ++f)
          w.data[f] =
              ops::dropout_keep_key(key, static_cast<std::uint64_t>(f), thr) ? w.data[f] * scale : 0.0f;
      });
      return;
    }
    // A head group (E, g): logical index e * H + h0 + h.
    const std::int64_t g = w.cols;
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, w.rows, 4096), [&](const auto& r) {
      for (auto e = r.begin(); e < r.end(); ++e) {
        float* v = w.row(e);
        const auto base = static_cast<std::uint64_t>(e * H + h0);
        for (std::int64_t h = 0; h < g; ++h)
          v[h] = ops::dropout_keep_key(key, base + static_cast<std::uint64_t>(h), thr) ? v[h] * scale : 0.0f;
      }
    });
    return;
  }
  // Head-major (g, E): logical index e * H + h0 + h.
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, w.rows, 1), [&](const auto& r) {
    for (auto h = r.begin(); h < r.end(); ++h) {
      float* v = w.row(h);
      for (std::int64_t e = 0; e < w.cols; ++e)
        v[e] =
            ops::dropout_keep_key(key, static_cast<std::uint64_t>(e * H + h0 + h), thr) ? v[e] * scale : 0.0f;
    }
  });
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "isa_end.hpp"
