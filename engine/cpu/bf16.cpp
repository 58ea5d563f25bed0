// bf16 on the CPU: the bf16 primitives as convert -> float32 kernel -> round, and the layout helpers.
#include "isa_begin.hpp"  // first: the shared headers, then the level's target

#include "kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

namespace {

// Elementwise over (n, h, d) views of any strides.
template <class A, class B, class F>
void for_each_pair(Tensor3View<A> x, Tensor3View<B> out, F f) {
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, x.n, 64), [&](const auto& r) {
    for (auto i = r.begin(); i < r.end(); ++i)
      for (std::int64_t h = 0; h < x.h; ++h) {
        A* xs = x.at(i, h);
        B* o = out.at(i, h);
        for (std::int64_t t = 0; t < x.d; ++t) f(xs[t], o[t]);
      }
  });
}

// A contiguous float32 copy of a bf16 tensor.
Tensor3<float> widen(Tensor3View<const bf16> x) {
  Tensor3<float> t(x.n, x.h, x.d);
  Kernels::convert(x, t.view());
  return t;
}

}  // namespace

void Kernels::convert(Tensor3View<const float> x, Tensor3View<bf16> out) {
  for_each_pair(x, out, [](const float& a, bf16& b) { b = to_bf16(a); });
}

void Kernels::convert(Tensor3View<const bf16> x, Tensor3View<float> out) {
  for_each_pair(x, out, [](const bf16& a, float& b) { b = to_float(a); });
}

void Kernels::edge_dot(const CsrView& g, Tensor3View<const bf16> q, Tensor3View<const bf16> k, float scale,
                       MatrixView<float> scores) {
  const Tensor3<float> qf = widen(q), kf = widen(k);
  edge_dot(g, qf.view(), kf.view(), scale, scores);
}

void Kernels::edge_attention(const CsrView& g, const Tuning& tuning, Tensor3View<const bf16> q,
                             Tensor3View<const bf16> k, float scale, Span<const std::uint8_t> mask,
                             MatrixView<float> weights) {
  const Tensor3<float> qf = widen(q), kf = widen(k);
  edge_attention(g, tuning, qf.view(), kf.view(), scale, mask, weights, {});
}

void Kernels::gather_axpby(const CsrView& g, const Tuning& tuning, MatrixView<const float> w, float a,
                           Tensor3View<const bf16> x, float b, Tensor3View<const bf16> y,
                           Tensor3View<bf16> out) {
  const Tensor3<float> xf = widen(x);
  Tensor3<float> yf;
  if (b != 0.0f) yf = widen(y);
  Tensor3<float> of(out.n, out.h, out.d);
  gather_axpby(g, tuning, w, a, xf.view(), b, yf.view(), of.view(), {});
  convert(of.view(), out);
}

void Kernels::node_axpby(float a, Tensor3View<const bf16> x, float b, Tensor3View<const bf16> y,
                         Tensor3View<bf16> out) {
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, out.n, 64), [&](const auto& r) {
    for (auto i = r.begin(); i < r.end(); ++i)
      for (std::int64_t h = 0; h < out.h; ++h) {
        const bf16* xs = x.at(i, h);
        const bf16* ys = y.at(i, h);
        bf16* o = out.at(i, h);
        for (std::int64_t t = 0; t < out.d; ++t) o[t] = to_bf16(a * to_float(xs[t]) + b * to_float(ys[t]));
      }
  });
}

std::int64_t Kernels::find_non_finite(Tensor3View<const bf16> x) {
  for (std::int64_t i = 0; i < x.n; ++i)
    for (std::int64_t h = 0; h < x.h; ++h) {
      const bf16* p = x.at(i, h);
      for (std::int64_t t = 0; t < x.d; ++t)
        if ((p[t].bits & 0x7f80u) == 0x7f80u) return (i * x.h + h) * x.d + t;
    }
  return -1;
}

void Kernels::transpose(MatrixView<const float> in, MatrixView<float> out) {
  tbb::parallel_for(tbb::blocked_range2d<std::int64_t>(0, in.rows, 64, 0, in.cols, 64), [&](const auto& r) {
    for (auto i = r.rows().begin(); i < r.rows().end(); ++i)
      for (auto j = r.cols().begin(); j < r.cols().end(); ++j)
        out.data[j * out.cols + i] = in.data[i * in.cols + j];
  });
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "isa_end.hpp"
