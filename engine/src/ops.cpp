// Argument checks for every primitive, then dispatch to the backend the operands live on.
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops.hpp>

#include "../cpu/backend.hpp"
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
  DIFFUSER_CHECK(t.n == g.n, op, ": ", what, " has shape ", shape_of(t), " but the graph has ", g.n, " nodes");
  DIFFUSER_CHECK(t.h > 0 && t.d > 0, op, ": ", what, " has an empty head or feature dimension ", shape_of(t));
  DIFFUSER_CHECK(t.stride_h >= t.d && t.stride_n >= t.stride_h * t.h, op, ": ", what,
                 " has overlapping strides");
  DIFFUSER_CHECK(t.n == 0 || t.data != nullptr, op, ": ", what, " has no data");
}

template <class T>
void check_edges(const char* op, const CsrView& g, const MatrixView<T>& m, std::int64_t heads, const char* what) {
  same_device(op, g.device, m.device, what);
  DIFFUSER_CHECK(m.rows == g.nnz && m.cols == heads, op, ": ", what, " has shape (", m.rows, ", ", m.cols,
                 ") but (edges, heads) = (", g.nnz, ", ", heads, ")");
}

void check_mask(const char* op, const CsrView& g, NodeMask mask) {
  if (mask.empty()) return;
  same_device(op, g.device, mask.device, "the padding mask");
  DIFFUSER_CHECK(mask.size == g.n, op, ": the padding mask has ", mask.size, " entries but the graph has ", g.n,
                 " nodes");
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
  auto hi_a = lo_a + static_cast<std::uintptr_t>(((a.n - 1) * a.stride_n + (a.h - 1) * a.stride_h + a.d) * 4);
  auto hi_b = lo_b + static_cast<std::uintptr_t>(((b.n - 1) * b.stride_n + (b.h - 1) * b.stride_h + b.d) * 4);
  return lo_a < hi_b && lo_b < hi_a;
}

}  // namespace

void edge_dot(const CsrView& g, Tensor3View<const float> q, Tensor3View<const float> k, float scale,
              MatrixView<float> scores) {
  constexpr const char* op = "edge_dot";
  check_nodes(op, g, q, "q");
  check_nodes(op, g, k, "k");
  check_same_shape(op, q, k, "q", "k");
  check_edges(op, g, scores, q.h, "scores");
  if (g.device == Device::cuda) return cuda::edge_dot(g, q, k, scale, scores);
  cpu::edge_dot(g, q, k, scale, scores);
}

void edge_softmax(const CsrView& g, MatrixView<float> scores, NodeMask mask) {
  constexpr const char* op = "edge_softmax";
  check_edges(op, g, scores, scores.cols, "scores");
  check_mask(op, g, mask);
  if (g.device == Device::cuda) return cuda::edge_softmax(g, scores, mask);
  cpu::edge_softmax(g, scores, mask);
}

void gather_sum(const CsrView& g, MatrixView<const float> w, Tensor3View<const float> x, Tensor3View<float> out) {
  constexpr const char* op = "gather_sum";
  check_nodes(op, g, x, "x");
  check_nodes(op, g, out, "out");
  check_same_shape(op, x, out, "x", "out");
  check_edges(op, g, w, x.h, "weights");
  DIFFUSER_CHECK(!overlaps(x, out), op, ": out must not overlap x");
  if (g.device == Device::cuda) return cuda::gather_sum(g, w, x, out);
  cpu::gather_sum(g, w, x, out);
}

void node_axpby(float a, Tensor3View<const float> x, float b, Tensor3View<const float> y, Tensor3View<float> out) {
  constexpr const char* op = "node_axpby";
  DIFFUSER_CHECK(x.n == out.n && y.n == out.n && x.h == out.h && y.h == out.h && x.d == out.d && y.d == out.d, op,
                 ": shapes differ: x ", shape_of(x), ", y ", shape_of(y), ", out ", shape_of(out));
  DIFFUSER_CHECK(x.device == out.device && y.device == out.device, op, ": operands are on different devices");
  if (out.device == Device::cuda) return cuda::node_axpby(a, x, b, y, out);
  cpu::node_axpby(a, x, b, y, out);
}

void edge_attention(const CsrView& g, Tensor3View<const float> q, Tensor3View<const float> k, float scale,
                    NodeMask mask, MatrixView<float> weights) {
  constexpr const char* op = "edge_attention";
  check_nodes(op, g, q, "q");
  check_nodes(op, g, k, "k");
  check_same_shape(op, q, k, "q", "k");
  check_edges(op, g, weights, q.h, "weights");
  check_mask(op, g, mask);
  if (g.device == Device::cuda) return cuda::edge_attention(g, q, k, scale, mask, weights);
  cpu::edge_attention(g, q, k, scale, mask, weights);
}

void gather_axpby(const CsrView& g, MatrixView<const float> w, float a, Tensor3View<const float> x, float b,
                  Tensor3View<const float> y, Tensor3View<float> out) {
  constexpr const char* op = "gather_axpby";
  check_nodes(op, g, x, "x");
  check_nodes(op, g, out, "out");
  check_same_shape(op, x, out, "x", "out");
  check_edges(op, g, w, x.h, "weights");
  if (b != 0.0f) {
    check_nodes(op, g, y, "y");
    check_same_shape(op, y, out, "y", "out");
  }
  DIFFUSER_CHECK(!overlaps(x, out), op, ": out must not overlap x (rows of x are read while out is written)");
  if (g.device == Device::cuda) return cuda::gather_axpby(g, w, a, x, b, y, out);
  cpu::gather_axpby(g, w, a, x, b, y, out);
}

std::int64_t find_non_finite(Tensor3View<const float> x) {
  if (x.device == Device::cuda) return cuda::find_non_finite(x);
  return cpu::find_non_finite(x);
}

}  // namespace diffuser::ops
