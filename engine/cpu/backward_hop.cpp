// One diffusion hop's backward on the CPU, fused over the reverse graph: for source row j, the
// gradient rows p_i of its destinations are read once and serve both the transposed gather
// (dx_j += a w_e p_i) and the edge-weight gradient (dw_e += a <p_i, x_j>).
#include "isa_begin.hpp"  // first: the shared headers, then the level's target

#include "backward_kernels.hpp"
#include "kernels.hpp"
#include "row_kernels.hpp"

namespace diffuser::cpu::DIFFUSER_ISA_NS {

namespace {

// Source row j: x_j is reused for every out-edge; four edges at a time share each x vector load
// and reduce their four dot products together (as the forward's score kernel).
template <int D, bool kPerm>
void hop_row(const float* w, const std::int64_t* perm, std::int64_t H, const float* p, std::int64_t p_sn,
             std::int64_t p_sh, const float* x_row, std::int64_t x_sh, const std::int32_t* col,
             std::int64_t begin, std::int64_t end, float a, float* dw, float* acc) {
  using namespace simd;
  constexpr int C = D / kLanes;
  auto edge = [&](std::int64_t t) { return kPerm ? perm[t] : t; };
  for (std::int64_t t = 0; t < H * D; ++t) acc[t] = 0.0f;
  std::int64_t t = begin;
  for (; t + 4 <= end; t += 4) {
    if (t + 12 <= end)
      for (int u = 8; u < 12; ++u) __builtin_prefetch(p + col[t + u] * p_sn);
    const float* p0 = p + col[t] * p_sn;
    const float* p1 = p + col[t + 1] * p_sn;
    const float* p2 = p + col[t + 2] * p_sn;
    const float* p3 = p + col[t + 3] * p_sn;
    const std::int64_t e0 = edge(t), e1 = edge(t + 1), e2 = edge(t + 2), e3 = edge(t + 3);
    for (std::int64_t h = 0; h < H; ++h) {
      const Vec w0 = splat(w[e0 * H + h]), w1 = splat(w[e1 * H + h]), w2 = splat(w[e2 * H + h]),
                w3 = splat(w[e3 * H + h]);
      const float* xh = x_row + h * x_sh;
      const std::int64_t off = h * p_sh;
      float* ah = acc + h * D;
      Vec d0 = zero(), d1 = zero(), d2 = zero(), d3 = zero();
      for (int c = 0; c < C; ++c) {
        const std::int64_t o = off + c * kLanes;
        const Vec xv = load(xh + c * kLanes);
        const Vec v0 = load(p0 + o), v1 = load(p1 + o), v2 = load(p2 + o), v3 = load(p3 + o);
        d0 += v0 * xv;
        d1 += v1 * xv;
        d2 += v2 * xv;
        d3 += v3 * xv;
        store(ah + c * kLanes, load(ah + c * kLanes) + w0 * v0 + w1 * v1 + w2 * v2 + w3 * v3);
      }
      const Vec4 dots = hsum4(d0, d1, d2, d3) * a;
      dw[e0 * H + h] += dots[0];
      dw[e1 * H + h] += dots[1];
      dw[e2 * H + h] += dots[2];
      dw[e3 * H + h] += dots[3];
    }
  }
  for (; t < end; ++t) {
    const float* pr = p + col[t] * p_sn;
    const std::int64_t e = edge(t);
    for (std::int64_t h = 0; h < H; ++h) {
      const Vec wv = splat(w[e * H + h]);
      const float* ph = pr + h * p_sh;
      const float* xh = x_row + h * x_sh;
      float* ah = acc + h * D;
      Vec dot = zero();
      for (int c = 0; c < C; ++c) {
        const Vec pv = load(ph + c * kLanes);
        dot += pv * load(xh + c * kLanes);
        store(ah + c * kLanes, load(ah + c * kLanes) + wv * pv);
      }
      dw[e * H + h] += a * hsum(dot);
    }
  }
}

void hop_row_any(const float* w, const std::int64_t* perm, std::int64_t H, std::int64_t D, const float* p,
                 std::int64_t p_sn, std::int64_t p_sh, const float* x_row, std::int64_t x_sh,
                 const std::int32_t* col, std::int64_t begin, std::int64_t end, float a, float* dw,
                 float* acc) {
  for (std::int64_t t = 0; t < H * D; ++t) acc[t] = 0.0f;
  for (std::int64_t t = begin; t < end; ++t) {
    const float* pr = p + col[t] * p_sn;
    const std::int64_t e = perm ? perm[t] : t;
    const float* we = w + e * H;
    float* dwe = dw + e * H;
    for (std::int64_t h = 0; h < H; ++h) {
      float dot = 0.0f;
      for (std::int64_t u = 0; u < D; ++u) {
        dot += pr[h * p_sh + u] * x_row[h * x_sh + u];
        acc[h * D + u] += we[h] * pr[h * p_sh + u];
      }
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
  dispatch_head_dim(Dim, [&]<int D>() {
    for_each_row_chunk(t, 8, [&](std::int64_t r0, std::int64_t r1) {
      Buffer<float> acc(H * Dim);
      for (std::int64_t j = r0; j < r1; ++j) {
        if (!in_pass.row(j)) continue;
        const auto rb = t.row_ptr[j], re = t.row_ptr[j + 1];
        if constexpr (D > 0)
          (rg.perm ? hop_row<D, true> : hop_row<D, false>)(w.data, rg.perm, H, p.data, p.stride_n, p.stride_h,
                                                           x.row(j), x.stride_h, t.col, rb, re, a, dw.data,
                                                           acc.data());
        else
          hop_row_any(w.data, rg.perm, H, Dim, p.data, p.stride_n, p.stride_h, x.row(j), x.stride_h, t.col,
                      rb, re, a, dw.data, acc.data());
        for (std::int64_t h = 0; h < H; ++h) {
          float* o = out.at(j, h);
          const float* ah = acc.data() + h * Dim;
          if (c != 0.0f) {
            const float* yh = y.at(j, h);
            for (std::int64_t u = 0; u < Dim; ++u) o[u] = a * ah[u] + c * yh[u];
          } else {
            for (std::int64_t u = 0; u < Dim; ++u) o[u] = a * ah[u];
          }
        }
      }
    });
  });
}

}  // namespace diffuser::cpu::DIFFUSER_ISA_NS

#include "isa_end.hpp"
