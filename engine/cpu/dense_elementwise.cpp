// Elementwise dense primitives and column sums on the CPU: TBB over row ranges (or flat chunks),
// reductions over fixed row blocks (dense_kernels.hpp) so results do not depend on the thread count.
#include "isa_begin.hpp"  // first: the shared headers, then the level's target

#include "dense_kernels.hpp"
#include "kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

void Kernels::bias_add(MatrixView<float> y, const float* bias) {
  for_rows(y.rows, [&](std::int64_t i) {
    float* r = y.row(i);
    for (std::int64_t c = 0; c < y.cols; ++c) r[c] += bias[c];
  });
}

void Kernels::column_sums(MatrixView<const float> x, float* out, bool accumulate) {
  fixed_order_column_sums(x.rows, x.cols, out, accumulate, [&](std::int64_t i, float* p) {
    const float* r = x.row(i);
    for (std::int64_t c = 0; c < x.cols; ++c) p[c] += r[c];
  });
}

void Kernels::column_dot(MatrixView<const float> a, MatrixView<const float> b, float* out, bool accumulate) {
  fixed_order_column_sums(a.rows, a.cols, out, accumulate, [&](std::int64_t i, float* p) {
    const float* ra = a.row(i);
    const float* rb = b.row(i);
    for (std::int64_t c = 0; c < a.cols; ++c) p[c] += ra[c] * rb[c];
  });
}

void Kernels::gelu_forward(MatrixView<const float> x, MatrixView<float> y) {
  for_rows(x.rows, [&](std::int64_t i) {
    const float* a = x.row(i);
    float* o = y.row(i);
    for (std::int64_t c = 0; c < x.cols; ++c)
      o[c] = 0.5f * a[c] * (1.0f + std::erf(a[c] * 0.70710678118654752f));
  });
}

void Kernels::gelu_backward(MatrixView<const float> x, MatrixView<const float> dy, MatrixView<float> dx) {
  for_rows(x.rows, [&](std::int64_t i) {
    const float* a = x.row(i);
    const float* g = dy.row(i);
    float* o = dx.row(i);
    for (std::int64_t c = 0; c < x.cols; ++c) {
      const float cdf = 0.5f * (1.0f + std::erf(a[c] * 0.70710678118654752f));
      const float pdf = 0.39894228040143268f * std::exp(-0.5f * a[c] * a[c]);
      o[c] = g[c] * (cdf + a[c] * pdf);
    }
  });
}

void Kernels::tanh_forward(MatrixView<const float> x, MatrixView<float> y) {
  for_rows(x.rows, [&](std::int64_t i) {
    for (std::int64_t c = 0; c < x.cols; ++c) y.row(i)[c] = std::tanh(x.row(i)[c]);
  });
}

void Kernels::tanh_backward(MatrixView<const float> y, MatrixView<const float> dy, MatrixView<float> dx) {
  for_rows(y.rows, [&](std::int64_t i) {
    for (std::int64_t c = 0; c < y.cols; ++c)
      dx.row(i)[c] = dy.row(i)[c] * (1.0f - y.row(i)[c] * y.row(i)[c]);
  });
}

void Kernels::axpby(float a, const float* x, float b, const float* y, float* out, std::int64_t n) {
  constexpr std::int64_t kChunk = 16384;
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, kChunk), [&](const auto& r) {
    if (b == 0.0f) {
      if (a == 1.0f) {
        for (auto i = r.begin(); i < r.end(); ++i) out[i] = x[i];
      } else {
        for (auto i = r.begin(); i < r.end(); ++i) out[i] = a * x[i];
      }
    } else if (a == 1.0f && b == 1.0f) {
      for (auto i = r.begin(); i < r.end(); ++i) out[i] = x[i] + y[i];
    } else {
      for (auto i = r.begin(); i < r.end(); ++i) out[i] = a * x[i] + b * y[i];
    }
  });
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "isa_end.hpp"
