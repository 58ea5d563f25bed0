// Argument checks for every primitive, then dispatch to the backend the operands live on.
#include <type_traits>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops.hpp>

#include "../cpu/dispatch.hpp"
#include "../cuda/backend.hpp"

namespace diffuser::ops {

namespace {

template <class T>
std::string shape_of(const Tensor3View<T>& t) {
  return cat("(", t.n, ", ", t.h, ", ", t.d, ")");
}

void same_device(const char* op, Device expected, Device got, const char* what) {
  DIFFUSER_CHECK(expected == got, op, ": ", what, " is on ", device_name(got), " but the graph is on ",
                 device_name(expected));
}

template <class T>
void check_nodes(const char* op, const CsrView& g, const Tensor3View<T>& t, const char* what) {
  same_device(op, g.device, t.device, what);
  DIFFUSER_CHECK(t.n == g.n, op, ": ", what, " has shape ", shape_of(t), " but the graph has ", g.n,
                 " nodes");
  DIFFUSER_CHECK(t.h > 0 && t.d > 0, op, ": ", what, " has an empty head or feature dimension ", shape_of(t));
  DIFFUSER_CHECK(t.stride_h >= t.d && t.stride_n >= t.stride_h * t.h, op, ": ", what,
                 " has overlapping strides");
  DIFFUSER_CHECK(t.n == 0 || t.data != nullptr, op, ": ", what, " has no data");
}

// (E, H) for edge_major, (H, E) for head_major.
template <class T>
void check_edges(const char* op, const CsrView& g, const MatrixView<T>& m, std::int64_t heads,
                 const char* what, EdgeLayout layout = EdgeLayout::edge_major) {
  same_device(op, g.device, m.device, what);
  if (layout == EdgeLayout::edge_major)
    DIFFUSER_CHECK(m.rows == g.nnz && m.cols == heads, op, ": ", what, " has shape (", m.rows, ", ", m.cols,
                   ") but (edges, heads) = (", g.nnz, ", ", heads, ")");
  else
    DIFFUSER_CHECK(m.rows == heads && m.cols == g.nnz, op, ": ", what, " (head-major) has shape (", m.rows,
                   ", ", m.cols, ") but (heads, edges) = (", heads, ", ", g.nnz, ")");
}

void check_mask(const char* op, const CsrView& g, NodeMask mask) {
  if (mask.empty()) return;
  same_device(op, g.device, mask.device, "the padding mask");
  DIFFUSER_CHECK(mask.size == g.n, op, ": the padding mask has ", mask.size, " entries but the graph has ",
                 g.n, " nodes");
}

template <class A, class B>
void check_same_shape(const char* op, const Tensor3View<A>& a, const Tensor3View<B>& b, const char* wa,
                      const char* wb) {
  DIFFUSER_CHECK(a.h == b.h && a.d == b.d, op, ": ", wa, " ", shape_of(a), " and ", wb, " ", shape_of(b),
                 " differ in heads or head size");
}

template <class A, class B>
bool overlaps(const Tensor3View<A>& a, const Tensor3View<B>& b) {
  if (a.n == 0 || b.n == 0) return false;
  auto lo_a = reinterpret_cast<std::uintptr_t>(a.data), lo_b = reinterpret_cast<std::uintptr_t>(b.data);
  auto hi_a = lo_a + static_cast<std::uintptr_t>(((a.n - 1) * a.stride_n + (a.h - 1) * a.stride_h + a.d) *
                                                 static_cast<std::int64_t>(sizeof(A)));
  auto hi_b = lo_b + static_cast<std::uintptr_t>(((b.n - 1) * b.stride_n + (b.h - 1) * b.stride_h + b.d) *
                                                 static_cast<std::int64_t>(sizeof(B)));
  return lo_a < hi_b && lo_b < hi_a;
}

void check_pass(const char* op, const CsrView& g, const RowPass& pass) {
  if (pass.first.empty()) return;
  same_device(op, g.device, pass.first.device, "the row pass");
  DIFFUSER_CHECK(pass.first.size == g.n, op, ": the row pass marks ", pass.first.size,
                 " rows but the graph has ", g.n);
}

cuda::EdgeStrides strides_of(EdgeLayout layout, std::int64_t edges, std::int64_t heads) {
  return layout == EdgeLayout::edge_major ? cuda::EdgeStrides{heads, 1} : cuda::EdgeStrides{1, edges};
}

template <class T>
void edge_dot_impl(const CsrView& g, Tensor3View<const T> q, Tensor3View<const T> k, float scale,
                   MatrixView<float> scores) {
  constexpr const char* op = "edge_dot";
  check_nodes(op, g, q, "q");
  check_nodes(op, g, k, "k");
  check_same_shape(op, q, k, "q", "k");
  check_edges(op, g, scores, q.h, "scores");
  if (g.device == Device::cuda) return cuda::edge_dot(g, q, k, scale, scores);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::edge_dot(g, q, k, scale, scores); });
}

template <class T>
void edge_attention_impl(const CsrView& g, Tensor3View<const T> q, Tensor3View<const T> k, float scale,
                         NodeMask mask, MatrixView<float> weights, EdgeLayout layout, RowPass pass = {}) {
  constexpr const char* op = "edge_attention";
  check_nodes(op, g, q, "q");
  check_nodes(op, g, k, "k");
  check_same_shape(op, q, k, "q", "k");
  check_edges(op, g, weights, q.h, "weights", layout);
  check_mask(op, g, mask);
  check_pass(op, g, pass);
  if (g.device == Device::cuda) {
    if (!pass.first.empty() && !pass.second) return;  // the whole graph is one unit: the second pass
    return cuda::edge_attention(g, q, k, scale, mask, weights.data, strides_of(layout, g.nnz, q.h));
  }
  cpu::run([&]<class K>(const cpu::Tuning& t) {
    auto kernel = [&](MatrixView<float> into, const RowPass& p) {
      if constexpr (std::is_same_v<T, float>) {
        K::edge_attention(g, t, q, k, scale, mask, into, p);
      } else {  // bf16 widens to float32 inside, in one pass
        DIFFUSER_CHECK(p.first.empty(), op, ": row passes are float32 only");
        K::edge_attention(g, t, q, k, scale, mask, into);
      }
    };
    if (layout == EdgeLayout::edge_major) return kernel(weights, pass);
    // The CPU computes edge-major and transposes (head-major is the GPU's layout).
    DIFFUSER_CHECK(pass.first.empty(), op, ": row passes need edge-major weights on the CPU");
    Matrix<float> tmp(g.nnz, q.h);
    kernel(tmp.view(), {});
    K::transpose(tmp.view(), weights);
  });
}

template <class T>
void gather_axpby_impl(const CsrView& g, MatrixView<const float> w, float a, Tensor3View<const T> x, float b,
                       Tensor3View<const T> y, Tensor3View<T> out, EdgeLayout layout,
                       const void* packed = nullptr, RowPass pass = {}) {
  constexpr const char* op = "gather_axpby";
  check_pass(op, g, pass);
  check_nodes(op, g, x, "x");
  check_nodes(op, g, out, "out");
  check_same_shape(op, x, out, "x", "out");
  check_edges(op, g, w, x.h, "weights", layout);
  if (b != 0.0f) {
    check_nodes(op, g, y, "y");
    check_same_shape(op, y, out, "y", "out");
  }
  DIFFUSER_CHECK(!overlaps(x, out), op, ": out must not overlap x (rows of x are read while out is written)");
  if (g.device == Device::cuda) {
    if (!pass.first.empty() && !pass.second) return;  // the whole graph is one unit: the second pass
    if constexpr (std::is_same_v<T, bf16>) {
      if (packed != nullptr)
        return cuda::gather_axpby(g, w.data, strides_of(layout, g.nnz, x.h), packed, a, x, b, y, out);
    }
    return cuda::gather_axpby(g, w.data, strides_of(layout, g.nnz, x.h), a, x, b, y, out);
  }
  cpu::run([&]<class K>(const cpu::Tuning& t) {
    auto kernel = [&](MatrixView<const float> weights, const RowPass& p) {
      if constexpr (std::is_same_v<T, float>) {
        K::gather_axpby(g, t, weights, a, x, b, y, out, p);
      } else {  // bf16 widens to float32 inside, in one pass
        DIFFUSER_CHECK(p.first.empty(), op, ": row passes are float32 only");
        K::gather_axpby(g, t, weights, a, x, b, y, out);
      }
    };
    if (layout == EdgeLayout::edge_major) return kernel(w, pass);
    Matrix<float> tmp(g.nnz, x.h);  // the CPU reads edge-major weights
    K::transpose(w, tmp.view());
    kernel(tmp.view(), pass);
  });
}

template <class T>
void gather_sum_impl(const CsrView& g, MatrixView<const float> w, Tensor3View<const T> x,
                     Tensor3View<T> out) {
  constexpr const char* op = "gather_sum";
  check_nodes(op, g, x, "x");
  check_nodes(op, g, out, "out");
  check_same_shape(op, x, out, "x", "out");
  check_edges(op, g, w, x.h, "weights");
  DIFFUSER_CHECK(!overlaps(x, out), op, ": out must not overlap x");
  if (g.device == Device::cuda) return cuda::gather_axpby(g, w.data, {x.h, 1}, 1.0f, x, 0.0f, {}, out);
  cpu::run([&]<class K>(const cpu::Tuning& t) {
    if constexpr (std::is_same_v<T, float>)
      K::gather_axpby(g, t, w, 1.0f, x, 0.0f, {}, out, {});
    else
      K::gather_axpby(g, t, w, 1.0f, x, 0.0f, {}, out);
  });
}

template <class T>
void node_axpby_impl(float a, Tensor3View<const T> x, float b, Tensor3View<const T> y, Tensor3View<T> out) {
  constexpr const char* op = "node_axpby";
  DIFFUSER_CHECK(x.n == out.n && y.n == out.n && x.h == out.h && y.h == out.h && x.d == out.d && y.d == out.d,
                 op, ": shapes differ: x ", shape_of(x), ", y ", shape_of(y), ", out ", shape_of(out));
  DIFFUSER_CHECK(x.device == out.device && y.device == out.device, op, ": operands are on different devices");
  if (out.device == Device::cuda) return cuda::node_axpby(a, x, b, y, out);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::node_axpby(a, x, b, y, out); });
}

template <class A, class B>
void check_convert(const Tensor3View<A>& x, const Tensor3View<B>& out) {
  DIFFUSER_CHECK(x.n == out.n && x.h == out.h && x.d == out.d, "convert: shapes differ: ", shape_of(x),
                 " and ", shape_of(out));
  DIFFUSER_CHECK(x.device == out.device, "convert: operands are on different devices");
}

}  // namespace

EdgeLayout preferred_edge_layout(Device d) {
  if (d == Device::cuda && cuda::prefers_head_major()) return EdgeLayout::head_major;
  return EdgeLayout::edge_major;
}

EdgeWeights::EdgeWeights(const CsrView& g, std::int64_t heads)
    : layout_(preferred_edge_layout(g.device)), edges_(g.nnz), heads_(heads) {
  DIFFUSER_CHECK(heads > 0, "edge weights need at least one head, got ", heads);
  m_ = layout_ == EdgeLayout::head_major ? Matrix<float>(heads, g.nnz, g.device)
                                         : Matrix<float>(g.nnz, heads, g.device);
}

Matrix<float> EdgeWeights::edge_major() const {
  if (layout_ == EdgeLayout::edge_major) {
    Matrix<float> out(edges_, heads_, device());
    if (edges_ * heads_ > 0)
      device_copy(out.view().data, device(), m_.view().data, device(), m_.buffer().bytes());
    return out;
  }
  Matrix<float> out(edges_, heads_, device());
  transpose_edge_values(m_.view(), out.view());
  return out;
}

void edge_dot(const CsrView& g, Tensor3View<const float> q, Tensor3View<const float> k, float scale,
              MatrixView<float> scores) {
  edge_dot_impl(g, q, k, scale, scores);
}
void edge_dot(const CsrView& g, Tensor3View<const bf16> q, Tensor3View<const bf16> k, float scale,
              MatrixView<float> scores) {
  edge_dot_impl(g, q, k, scale, scores);
}

void edge_softmax(const CsrView& g, MatrixView<float> scores, NodeMask mask) {
  constexpr const char* op = "edge_softmax";
  check_edges(op, g, scores, scores.cols, "scores");
  check_mask(op, g, mask);
  if (g.device == Device::cuda) return cuda::edge_softmax(g, scores, mask);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::edge_softmax(g, scores, mask); });
}

void gather_sum(const CsrView& g, MatrixView<const float> w, Tensor3View<const float> x,
                Tensor3View<float> out) {
  gather_sum_impl(g, w, x, out);
}
void gather_sum(const CsrView& g, MatrixView<const float> w, Tensor3View<const bf16> x,
                Tensor3View<bf16> out) {
  gather_sum_impl(g, w, x, out);
}

void node_axpby(float a, Tensor3View<const float> x, float b, Tensor3View<const float> y,
                Tensor3View<float> out) {
  node_axpby_impl(a, x, b, y, out);
}
void node_axpby(float a, Tensor3View<const bf16> x, float b, Tensor3View<const bf16> y,
                Tensor3View<bf16> out) {
  node_axpby_impl(a, x, b, y, out);
}

void edge_attention(const CsrView& g, Tensor3View<const float> q, Tensor3View<const float> k, float scale,
                    NodeMask mask, MatrixView<float> weights, EdgeLayout layout, RowPass pass) {
  edge_attention_impl(g, q, k, scale, mask, weights, layout, pass);
}
void edge_attention(const CsrView& g, Tensor3View<const bf16> q, Tensor3View<const bf16> k, float scale,
                    NodeMask mask, MatrixView<float> weights, EdgeLayout layout) {
  edge_attention_impl(g, q, k, scale, mask, weights, layout);
}

void gather_axpby(const CsrView& g, MatrixView<const float> w, float a, Tensor3View<const float> x, float b,
                  Tensor3View<const float> y, Tensor3View<float> out, EdgeLayout layout) {
  gather_axpby_impl(g, w, a, x, b, y, out, layout);
}
void gather_axpby(const CsrView& g, MatrixView<const float> w, float a, Tensor3View<const bf16> x, float b,
                  Tensor3View<const bf16> y, Tensor3View<bf16> out, EdgeLayout layout) {
  gather_axpby_impl(g, w, a, x, b, y, out, layout);
}

void edge_attention(const CsrView& g, Tensor3View<const float> q, Tensor3View<const float> k, float scale,
                    NodeMask mask, EdgeWeights& weights, RowPass pass) {
  edge_attention_impl(g, q, k, scale, mask, weights.matrix(), weights.layout(), pass);
}
void edge_attention(const CsrView& g, Tensor3View<const bf16> q, Tensor3View<const bf16> k, float scale,
                    NodeMask mask, EdgeWeights& weights) {
  edge_attention_impl(g, q, k, scale, mask, weights.matrix(), weights.layout());
}

void gather_axpby(const CsrView& g, const EdgeWeights& w, float a, Tensor3View<const float> x, float b,
                  Tensor3View<const float> y, Tensor3View<float> out) {
  gather_axpby_impl(g, w.matrix(), a, x, b, y, out, w.layout());
}
void gather_axpby(const CsrView& g, const EdgeWeights& w, float a, Tensor3View<const bf16> x, float b,
                  Tensor3View<const bf16> y, Tensor3View<bf16> out) {
  gather_axpby_impl(g, w.matrix(), a, x, b, y, out, w.layout());
}

HopWeights prepare_hops(const CsrView& g, MatrixView<const float> w, Tensor3View<const float> x_like) {
  return prepare_hops(g, w, EdgeLayout::edge_major, x_like);
}
HopWeights prepare_hops(const CsrView& g, const EdgeWeights& w, Tensor3View<const float> x_like) {
  return prepare_hops(g, w.matrix(), w.layout(), x_like);
}
HopWeights prepare_hops(const CsrView& g, const EdgeWeights& w, Tensor3View<const bf16> x_like) {
  return prepare_hops(g, w.matrix(), w.layout(), x_like);
}

HopWeights prepare_hops(const CsrView& g, MatrixView<const float> w, EdgeLayout layout,
                        Tensor3View<const float> x_like) {
  check_nodes("prepare_hops", g, x_like, "x");
  check_edges("prepare_hops", g, w, x_like.h, "weights", layout);
  return HopWeights{w, layout, nullptr};
}

HopWeights prepare_hops(const CsrView& g, MatrixView<const float> w, EdgeLayout layout,
                        Tensor3View<const bf16> x_like) {
  check_nodes("prepare_hops", g, x_like, "x");
  check_edges("prepare_hops", g, w, x_like.h, "weights", layout);
  HopWeights hw{w, layout, nullptr};
  if (g.device == Device::cuda && x_like.d == 64)
    hw.packed = cuda::pack_hop_weights(g, w.data, strides_of(layout, g.nnz, x_like.h), x_like.h);
  return hw;
}

void gather_axpby(const CsrView& g, const HopWeights& w, float a, Tensor3View<const float> x, float b,
                  Tensor3View<const float> y, Tensor3View<float> out, RowPass pass) {
  gather_axpby_impl(g, w.w, a, x, b, y, out, w.layout, nullptr, pass);
}

void gather_axpby(const CsrView& g, const HopWeights& w, float a, Tensor3View<const bf16> x, float b,
                  Tensor3View<const bf16> y, Tensor3View<bf16> out) {
  gather_axpby_impl(g, w.w, a, x, b, y, out, w.layout, w.packed.get());
}

std::int64_t find_non_finite(Tensor3View<const float> x) {
  if (x.device == Device::cuda) return cuda::find_non_finite(x);
  return cpu::run([&]<class K>(const cpu::Tuning&) { return K::find_non_finite(x); });
}
std::int64_t find_non_finite(Tensor3View<const bf16> x) {
  if (x.device == Device::cuda) return cuda::find_non_finite(x);
  return cpu::run([&]<class K>(const cpu::Tuning&) { return K::find_non_finite(x); });
}

void convert(Tensor3View<const float> x, Tensor3View<bf16> out) {
  check_convert(x, out);
  if (x.device == Device::cuda) return cuda::convert(x, out);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::convert(x, out); });
}
void convert(Tensor3View<const bf16> x, Tensor3View<float> out) {
  check_convert(x, out);
  if (x.device == Device::cuda) return cuda::convert(x, out);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::convert(x, out); });
}

void transpose_edge_values(MatrixView<const float> in, MatrixView<float> out) {
  DIFFUSER_CHECK(in.rows == out.cols && in.cols == out.rows, "transpose_edge_values: (", in.rows, ", ",
                 in.cols, ") does not transpose into (", out.rows, ", ", out.cols, ")");
  DIFFUSER_CHECK(in.device == out.device, "transpose_edge_values: operands are on different devices");
  if (in.rows * in.cols == 0) return;
  if (in.device == Device::cuda) return cuda::transpose(in, out);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::transpose(in, out); });
}

Csr csr_from_edges(std::int64_t n, Span<const std::int32_t> src, Span<const std::int32_t> dst) {
  DIFFUSER_CHECK(src.size == dst.size, "edge list has ", src.size, " sources but ", dst.size,
                 " destinations");
  DIFFUSER_CHECK(src.device == dst.device,
                 "csr_from_edges: sources and destinations are on different devices");
  if (src.device == Device::cpu)
    return Csr::from_edges(n, {src.data, static_cast<std::size_t>(src.size)},
                           {dst.data, static_cast<std::size_t>(dst.size)});
  DIFFUSER_CHECK(n >= 0 && n <= kMaxNodes, "number of nodes ", n, " is out of range [0, ", kMaxNodes, "]");
  std::int64_t bad = -1;
  Csr g = cuda::csr_from_edges(n, src.data, dst.data, src.size, &bad);
  if (bad >= 0) {
    std::int32_t s = 0, d = 0;
    cuda::copy(&s, false, src.data + bad, true, sizeof s);
    cuda::copy(&d, false, dst.data + bad, true, sizeof d);
    throw Error(cat("edge ", bad, " (", s, " -> ", d, ") has an endpoint outside [0, ", n, ")"));
  }
  return g;
}

}  // namespace diffuser::ops
