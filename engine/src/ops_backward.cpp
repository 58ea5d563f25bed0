// Argument checks for every gradient primitive, then dispatch to the backend the operands live on
// (the same style as ops.cpp: every message names the primitive and the operand).
#include <cstdint>
#include <string>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops_backward.hpp>

#include "../cpu/dispatch.hpp"
#include "../cuda/backward_backend.hpp"

namespace diffuser {

ReverseGraph::ReverseGraph(const Csr& g) {
  std::vector<std::int64_t> perm;
  if (g.device() == Device::cpu) {
    t_ = g.transpose(&perm);
  } else {
    t_ = g.to(Device::cpu).transpose(&perm).to(g.device());
  }
  perm_ = Buffer<std::int64_t>::from_host(perm, g.device());
}

std::int64_t ReverseGraph::bytes() const {
  return static_cast<std::int64_t>(t_.row_ptr().bytes() + t_.col().bytes() + perm_.bytes());
}

}  // namespace diffuser

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

template <class A, class B>
void check_same_shape(const char* op, const Tensor3View<A>& a, const Tensor3View<B>& b, const char* wa,
                      const char* wb) {
  DIFFUSER_CHECK(a.h == b.h && a.d == b.d, op, ": ", wa, " ", shape_of(a), " and ", wb, " ", shape_of(b),
                 " differ in heads or head size");
}

template <class T>
void check_edges(const char* op, const CsrView& g, const MatrixView<T>& m, std::int64_t heads,
                 const char* what) {
  same_device(op, g.device, m.device, what);
  DIFFUSER_CHECK(m.rows == g.nnz && m.cols == heads, op, ": ", what, " has shape (", m.rows, ", ", m.cols,
                 ") but (edges, heads) = (", g.nnz, ", ", heads, ")");
  DIFFUSER_CHECK(m.rows * m.cols == 0 || m.data != nullptr, op, ": ", what, " has no data");
}

void check_reverse(const char* op, const ReverseView& rg, const CsrView* forward = nullptr,
                   bool need_perm = false) {
  DIFFUSER_CHECK(!need_perm || rg.perm != nullptr || rg.t.nnz == 0, op,
                 ": the reverse graph has no edge permutation");
  if (forward) {
    DIFFUSER_CHECK(forward->n == rg.t.n && forward->nnz == rg.t.nnz, op, ": the reverse graph (", rg.t.n,
                   " nodes, ", rg.t.nnz, " edges) is not the reverse of the graph (", forward->n, " nodes, ",
                   forward->nnz, " edges)");
    same_device(op, forward->device, rg.t.device, "the reverse graph");
  }
}

template <class A, class B>
bool overlaps(const Tensor3View<A>& a, const Tensor3View<B>& b) {
  if (a.n == 0 || b.n == 0 || a.data == nullptr || b.data == nullptr) return false;
  auto lo_a = reinterpret_cast<std::uintptr_t>(a.data), lo_b = reinterpret_cast<std::uintptr_t>(b.data);
  auto hi_a = lo_a + static_cast<std::uintptr_t>(((a.n - 1) * a.stride_n + (a.h - 1) * a.stride_h + a.d) *
                                                 static_cast<std::int64_t>(sizeof(A)));
  auto hi_b = lo_b + static_cast<std::uintptr_t>(((b.n - 1) * b.stride_n + (b.h - 1) * b.stride_h + b.d) *
                                                 static_cast<std::int64_t>(sizeof(B)));
  return lo_a < hi_b && lo_b < hi_a;
}

// Strided views into one packed buffer (dQ, dK, dV of a (N, 3, H, D) gradient) interleave without
// sharing elements: with equal row strides, compare the two rows' footprints modulo the stride.
template <class A>
bool disjoint(const Tensor3View<A>& a, const Tensor3View<A>& b) {
  if (!overlaps(a, b)) return true;
  const std::int64_t s = a.stride_n;
  const std::int64_t ea = (a.h - 1) * a.stride_h + a.d, eb = (b.h - 1) * b.stride_h + b.d;
  if (b.stride_n != s || ea > s || eb > s) return false;
  const std::int64_t delta = b.data - a.data;
  const std::int64_t r = ((delta % s) + s) % s;
  return r >= ea && r + eb <= s;
}

template <class A, class B>
bool same_view(const Tensor3View<A>& a, const Tensor3View<B>& b) {
  return static_cast<const void*>(a.data) == static_cast<const void*>(b.data) && a.n == b.n && a.h == b.h &&
         a.d == b.d && a.stride_n == b.stride_n && a.stride_h == b.stride_h;
}

void check_probability(const char* op, float p) {
  DIFFUSER_CHECK(p >= 0.0f && p < 1.0f, op, ": the dropout probability must be in [0, 1), got ", p);
}

// The head slice resolved against the view's head count (heads = 0: the whole tensor).
HeadSlice check_slice(const char* op, HeadSlice s, std::int64_t view_heads) {
  if (s.heads == 0) {
    DIFFUSER_CHECK(s.offset == 0, op, ": a head offset (", s.offset, ") needs the total head count");
    return {0, view_heads};
  }
  DIFFUSER_CHECK(s.offset >= 0 && s.heads > 0 && s.offset + view_heads <= s.heads, op, ": heads [", s.offset,
                 ", ", s.offset + view_heads, ") are not a slice of ", s.heads, " heads");
  return s;
}

}  // namespace

void scatter_axpby(const ReverseView& rg, MatrixView<const float> w, float a, Tensor3View<const float> y,
                   float b, Tensor3View<const float> z, Tensor3View<float> out) {
  constexpr const char* op = "scatter_axpby";
  check_reverse(op, rg);
  check_nodes(op, rg.t, y, "y");
  check_nodes(op, rg.t, out, "out");
  check_same_shape(op, y, out, "y", "out");
  check_edges(op, rg.t, w, y.h, "weights");
  if (b != 0.0f) {
    check_nodes(op, rg.t, z, "z");
    check_same_shape(op, z, out, "z", "out");
    DIFFUSER_CHECK(same_view(z, out) || !overlaps(z, out), op, ": z must be out itself or not overlap it");
  }
  DIFFUSER_CHECK(!overlaps(y, out), op, ": out must not overlap y (rows of y are read while out is written)");
  if (rg.t.device == Device::cuda) return cuda::grad::scatter_axpby(rg, w, a, y, b, z, out);
  cpu::run([&]<class K>(const cpu::Tuning& t) {
    // Weights in reverse-graph order make this a plain gather over the reverse graph, which the
    // hop's kernels (panels, hub rows) run 2.4x faster than a per-row pass (N = 4,096, the recipe:
    // 18 ms against 44 ms, docs/ARCHITECTURE.md). z may be out: each row of out is written only
    // after that row of z is read (tested).
    if (rg.perm == nullptr) return K::gather_axpby(rg.t, t, w, a, y, b, z, out, {});
    K::scatter_axpby(rg, w, a, y, b, z, out);
  });
}

void scatter_sum(const ReverseView& rg, MatrixView<const float> w, Tensor3View<const float> y,
                 Tensor3View<float> out) {
  scatter_axpby(rg, w, 1.0f, y, 0.0f, {}, out);
}

void edge_softmax_backward(const CsrView& g, MatrixView<const float> w, MatrixView<float> grad) {
  constexpr const char* op = "edge_softmax_backward";
  check_edges(op, g, w, w.cols, "weights");
  check_edges(op, g, grad, w.cols, "grad");
  if (g.nnz == 0) return;
  if (g.device == Device::cuda) return cuda::grad::edge_softmax_backward(g, w, grad);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::edge_softmax_backward(g, w, grad); });
}

void hop_backward(const ReverseView& rg, MatrixView<const float> w, float a, Tensor3View<const float> p,
                  Tensor3View<const float> x, float c, Tensor3View<const float> y, MatrixView<float> dw,
                  Tensor3View<float> out, RowPass pass) {
  constexpr const char* op = "hop_backward";
  check_reverse(op, rg);
  check_nodes(op, rg.t, p, "p");
  check_nodes(op, rg.t, x, "x");
  check_nodes(op, rg.t, out, "out");
  check_same_shape(op, p, x, "p", "x");
  check_same_shape(op, p, out, "p", "out");
  check_edges(op, rg.t, w, p.h, "weights");
  check_edges(op, rg.t, dw, p.h, "dw");
  if (c != 0.0f) {
    check_nodes(op, rg.t, y, "y");
    check_same_shape(op, y, out, "y", "out");
    DIFFUSER_CHECK(same_view(y, out) || !overlaps(y, out), op, ": y must be out itself or not overlap it");
  }
  DIFFUSER_CHECK(!overlaps(p, out) && !overlaps(x, out), op, ": out must not overlap p or x");
  if (!pass.first.empty()) {
    same_device(op, rg.t.device, pass.first.device, "the row pass");
    DIFFUSER_CHECK(pass.first.size == rg.t.n, op, ": the row pass marks ", pass.first.size,
                   " rows but the reverse graph has ", rg.t.n);
  }
  if (rg.t.device == Device::cuda) {
    if (!pass.first.empty() && !pass.second) return;  // the whole graph is one unit: the second pass
    return cuda::grad::hop_backward(rg, w, a, p, x, c, y, dw, out);
  }
  cpu::run([&]<class K>(const cpu::Tuning&) { K::hop_backward(rg, w, a, p, x, c, y, dw, out, pass); });
}

void attention_backward(const CsrView& g, const ReverseView& rg, Tensor3View<const float> q,
                        Tensor3View<const float> k, float scale, MatrixView<const float> w,
                        MatrixView<float> grad, Tensor3View<float> dq, Tensor3View<float> dk) {
  constexpr const char* op = "attention_backward";
  const bool with_dk = dk.data != nullptr;
  check_reverse(op, rg, &g, with_dk);
  check_nodes(op, g, q, "q");
  check_nodes(op, g, k, "k");
  check_nodes(op, g, dq, "dq");
  check_same_shape(op, q, k, "q", "k");
  check_same_shape(op, q, dq, "q", "dq");
  if (with_dk) {
    check_nodes(op, g, dk, "dk");
    check_same_shape(op, q, dk, "q", "dk");
  }
  check_edges(op, g, w, q.h, "weights");
  check_edges(op, g, grad, q.h, "grad");
  DIFFUSER_CHECK(!overlaps(dq, q) && !overlaps(dq, k), op, ": dq must not overlap q or k");
  if (with_dk)
    DIFFUSER_CHECK(disjoint(dq, dk) && !overlaps(dk, q) && !overlaps(dk, k), op,
                   ": dq and dk must not overlap each other, q or k");
  if (g.device == Device::cuda) return cuda::grad::attention_backward(g, rg, q, k, scale, w, grad, dq, dk);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::attention_backward(g, rg, q, k, scale, w, grad, dq, dk); });
}

void permute_edges(const ReverseView& rg, MatrixView<const float> in, MatrixView<float> out) {
  constexpr const char* op = "permute_edges";
  check_reverse(op, rg, nullptr, true);
  check_edges(op, rg.t, in, in.cols, "in");
  check_edges(op, rg.t, out, in.cols, "out");
  DIFFUSER_CHECK(in.data != out.data || in.rows * in.cols == 0, op, ": out must not be in");
  if (in.rows * in.cols == 0) return;
  if (rg.t.device == Device::cuda) return cuda::grad::permute_edges(rg, in, out, false);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::permute_edges(rg, in, out, false); });
}

void unpermute_edges(const ReverseView& rg, MatrixView<const float> in, MatrixView<float> out) {
  constexpr const char* op = "unpermute_edges";
  check_reverse(op, rg, nullptr, true);
  check_edges(op, rg.t, in, in.cols, "in");
  check_edges(op, rg.t, out, in.cols, "out");
  DIFFUSER_CHECK(in.data != out.data || in.rows * in.cols == 0, op, ": out must not be in");
  if (in.rows * in.cols == 0) return;
  if (rg.t.device == Device::cuda) return cuda::grad::permute_edges(rg, in, out, true);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::permute_edges(rg, in, out, true); });
}

void dropout(Tensor3View<float> x, float p, std::uint64_t seed, std::uint64_t stream, HeadSlice slice) {
  check_probability("dropout", p);
  DIFFUSER_CHECK(x.n == 0 || x.data != nullptr, "dropout: the tensor has no data");
  const HeadSlice s = check_slice("dropout", slice, x.h);
  if (p == 0.0f || x.numel() == 0) return;
  if (x.device == Device::cuda) return cuda::grad::dropout(x, p, seed, stream, s);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::dropout(x, p, seed, stream, s); });
}

void dropout_edges(MatrixView<float> w, EdgeLayout layout, float p, std::uint64_t seed, std::uint64_t stream,
                   HeadSlice slice) {
  check_probability("dropout_edges", p);
  const bool head_major = layout == EdgeLayout::head_major;
  const HeadSlice s = check_slice("dropout_edges", slice, head_major ? w.rows : w.cols);
  if (p == 0.0f || w.rows * w.cols == 0) return;
  DIFFUSER_CHECK(w.data != nullptr, "dropout_edges: the edge values have no data");
  if (w.device == Device::cuda) return cuda::grad::dropout_edges(w, head_major, p, seed, stream, s);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::dropout_edges(w, head_major, p, seed, stream, s); });
}

void dropout_edges(MatrixView<float> w, float p, std::uint64_t seed, std::uint64_t stream, HeadSlice slice) {
  dropout_edges(w, EdgeLayout::edge_major, p, seed, stream, slice);
}

void dropout_edges(EdgeWeights& w, float p, std::uint64_t seed, std::uint64_t stream, HeadSlice slice) {
  dropout_edges(w.matrix(), w.layout(), p, seed, stream, slice);
}

}  // namespace diffuser::ops
