// LayerNorm forward and backward on the CPU, one row per iteration; the row statistics accumulate in
// double (rows are short: d_model values). The column sums of the backward are in dense_elementwise.cpp.
#include "isa_begin.hpp"  // first: the shared headers, then the level's target

#include "dense_kernels.hpp"
#include "kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

void Kernels::layer_norm_forward(MatrixView<const float> x, const float* gamma, const float* beta, float eps,
                                 MatrixView<float> y, float* xhat, float* rstd) {
  const std::int64_t n = x.cols;
  for_rows(x.rows, [&](std::int64_t i) {
    const float* a = x.row(i);
    double mean = 0.0;
    for (std::int64_t c = 0; c < n; ++c) mean += a[c];
    mean /= static_cast<double>(n);
    double var = 0.0;
    for (std::int64_t c = 0; c < n; ++c) {
      const double t = a[c] - mean;
      var += t * t;
    }
    var /= static_cast<double>(n);
    const float r = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    const float m = static_cast<float>(mean);
    float* o = y.row(i);
    float* xh = xhat ? xhat + i * n : nullptr;
    for (std::int64_t c = 0; c < n; ++c) {
      const float h = (a[c] - m) * r;
      if (xh) xh[c] = h;
      o[c] = gamma[c] * h + beta[c];
    }
    if (rstd) rstd[i] = r;
  });
}

void Kernels::layer_norm_backward(MatrixView<const float> xhat, const float* rstd, const float* gamma,
                                  MatrixView<const float> dy, MatrixView<float> dx, bool accumulate_dx) {
  const std::int64_t n = xhat.cols;
  const double inv_n = 1.0 / static_cast<double>(n);
  for_rows(xhat.rows, [&](std::int64_t i) {
    const float* h = xhat.row(i);
    const float* g = dy.row(i);
    double s1 = 0.0, s2 = 0.0;
    for (std::int64_t c = 0; c < n; ++c) {
      const double gg = static_cast<double>(g[c]) * gamma[c];
      s1 += gg;
      s2 += gg * h[c];
    }
    const float m1 = static_cast<float>(s1 * inv_n), m2 = static_cast<float>(s2 * inv_n);
    const float r = rstd[i];
    float* o = dx.row(i);
    for (std::int64_t c = 0; c < n; ++c) {
      const float v = r * (g[c] * gamma[c] - m1 - h[c] * m2);
      o[c] = accumulate_dx ? o[c] + v : v;
    }
  });
}

void Kernels::layer_norm_apply(MatrixView<const float> xhat, const float* gamma, const float* beta,
                               MatrixView<float> y) {
  for_rows(xhat.rows, [&](std::int64_t i) {
    const float* h = xhat.row(i);
    float* o = y.row(i);
    for (std::int64_t c = 0; c < xhat.cols; ++c) o[c] = gamma[c] * h[c] + beta[c];
  });
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "isa_end.hpp"
