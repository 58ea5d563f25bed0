// Dropout on the CPU: the keep mask of every element is recomputed from (seed, stream, index), so
// nothing is stored and the forward and backward passes (and the GPU) agree bit for bit.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "backward_kernels.hpp"

namespace diffuser::cpu::grad {

void dropout(Tensor3View<float> x, float p, std::uint64_t seed, std::uint64_t stream) {
  const std::uint32_t thr = ops::dropout_threshold(p);
  const std::uint64_t key = ops::dropout_key(seed, stream);
  const float scale = 1.0f / (1.0f - p);
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, x.n, 64), [&](const auto& r) {
    for (auto i = r.begin(); i < r.end(); ++i)
      for (std::int64_t h = 0; h < x.h; ++h) {
        float* row = x.at(i, h);
        const auto base = static_cast<std::uint64_t>((i * x.h + h) * x.d);
        for (std::int64_t t = 0; t < x.d; ++t)
          row[t] =
              ops::dropout_keep_key(key, base + static_cast<std::uint64_t>(t), thr) ? row[t] * scale : 0.0f;
      }
  });
}

void dropout_edges(MatrixView<float> w, bool head_major, float p, std::uint64_t seed, std::uint64_t stream) {
  const std::uint32_t thr = ops::dropout_threshold(p);
  const std::uint64_t key = ops::dropout_key(seed, stream);
  const float scale = 1.0f / (1.0f - p);
  if (!head_major) {  // flat: logical index = position
    const std::int64_t count = w.rows * w.cols;
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, count, 16384), [&](const auto& r) {
      for (auto f = r.begin(); f < r.end(); ++f)
        w.data[f] = ops::dropout_keep_key(key, static_cast<std::uint64_t>(f), thr) ? w.data[f] * scale : 0.0f;
    });
    return;
  }
  // Head-major (H, E): logical index e * H + h.
  const std::int64_t H = w.rows;
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, w.rows, 1), [&](const auto& r) {
    for (auto h = r.begin(); h < r.end(); ++h) {
      float* v = w.row(h);
      for (std::int64_t e = 0; e < w.cols; ++e)
        v[e] = ops::dropout_keep_key(key, static_cast<std::uint64_t>(e * H + h), thr) ? v[e] * scale : 0.0f;
    }
  });
}

}  // namespace diffuser::cpu::grad
