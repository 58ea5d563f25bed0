// Gradient primitives of the message-passing ops: the transposed gather over the reverse graph
// (deterministic, no atomics), the edge-softmax and score backward, one diffusion hop's backward, dropout.
#pragma once

#include <cstdint>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/ops.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/engine/tensor.hpp>

namespace diffuser {

// The reverse graph (CSC) with the edge permutation, on one device: row j of `t` lists the
// destinations i of the forward edges j -> i (ascending), and perm[t] is the index in the forward
// CSR of reverse edge t. Kernels over the reverse graph read and write per-edge values in forward
// (CSR) order through perm, so every output row and every edge has one writer. With perm == nullptr
// (ReverseGraph::reverse_order()) the per-edge values are in reverse-graph order instead: no
// indirection, which pays when several passes reuse them (permute_edges converts once).
struct ReverseView {
  CsrView t;
  const std::int64_t* perm = nullptr;
};

class ReverseGraph {
 public:
  ReverseGraph() = default;
  // Built on the CPU (Csr::transpose) and carried to g's device.
  explicit ReverseGraph(const Csr& g);

  const Csr& graph() const { return t_; }
  const Buffer<std::int64_t>& perm() const { return perm_; }
  ReverseView view() const { return {t_.view(), perm_.data()}; }
  // The reverse graph for per-edge values already in reverse order (perm == nullptr).
  ReverseView reverse_order() const { return {t_.view(), nullptr}; }
  Device device() const { return t_.device(); }
  std::int64_t bytes() const;

 private:
  Csr t_;
  Buffer<std::int64_t> perm_;
};

}  // namespace diffuser

namespace diffuser::ops {

// [u_mul_e backward, the transposed gather] out[j, h, :] = a * sum over edges e = j -> i of
// w[e, h] * y[i, h, :] + b * z[j, h, :] (z ignored when b == 0; out may alias z, not y). Rows
// with no outgoing edge get b * z. w: (E, H) edge-major, forward CSR order.
void scatter_axpby(const ReverseView& rg, MatrixView<const float> w, float a, Tensor3View<const float> y,
                   float b, Tensor3View<const float> z, Tensor3View<float> out);
// out = A^T y (a = 1, b = 0).
void scatter_sum(const ReverseView& rg, MatrixView<const float> w, Tensor3View<const float> y,
                 Tensor3View<float> out);

// Edge-softmax backward per destination row and head, in place: grad <- w * (grad - sum_row w * grad),
// with w the softmax output (masked edges have w = 0, so they get 0).
void edge_softmax_backward(const CsrView& g, MatrixView<const float> w, MatrixView<float> grad);

// The backward of one diffusion hop out_k = a * (A x) + b * v, fused into one pass over the reverse
// graph (each p row is read once for both results):
//   out[j] = a * sum_{e = j -> i} w[e] p[i] + c * y[j]        (dx = a A^T p, plus c y; y may alias out)
//   dw[e, h] += a * <p[i, h, :], x[j, h, :]>                   for every edge e = j -> i
// p is the gradient of the hop's output, x its input. Deterministic: row j and its edges belong to
// one task. out must not overlap p or x. `pass` (ops.hpp) selects rows j of the reverse graph.
void hop_backward(const ReverseView& rg, MatrixView<const float> w, float a, Tensor3View<const float> p,
                  Tensor3View<const float> x, float c, Tensor3View<const float> y, MatrixView<float> dw,
                  Tensor3View<float> out, RowPass pass = {});

// Per-edge values (E, H) between forward order and reverse-graph order: permute_edges gives
// out[t] = in[perm[t]], unpermute_edges gives out[perm[t]] = in[t]. out must not overlap in.
void permute_edges(const ReverseView& rg, MatrixView<const float> in, MatrixView<float> out);
void unpermute_edges(const ReverseView& rg, MatrixView<const float> in, MatrixView<float> out);

// The backward of w = edge_softmax(scale * <q_i, k_j>) given dL/dw in `grad`: grad becomes dS (the
// scores' gradient, in place), then dq[i] = scale * sum_e dS[e] k[j] (a gather over the graph, fused
// with the softmax backward of row i) and dk[j] = scale * sum_{e = j -> i} dS[e] q[i] (a gather over
// the reverse graph). dq and dk are overwritten; they may be strided views into one packed buffer.
// An empty dk (no data) skips the dk pass (the caller scatters dS itself, e.g. in reverse order).
void attention_backward(const CsrView& g, const ReverseView& rg, Tensor3View<const float> q,
                        Tensor3View<const float> k, float scale, MatrixView<const float> w,
                        MatrixView<float> grad, Tensor3View<float> dq, Tensor3View<float> dk);

// Which heads of the logical tensor a view holds, for the dropout masks: heads [offset, offset + h)
// of a tensor of `heads` heads (h the view's head count). The default, {0, 0}, is the whole tensor
// (heads = the view's own count). A head group of the backward (heads [h0, h0 + g) of H, a strided
// sub-view or a separate (E, g) edge buffer) passes {h0, H} and so draws exactly the masks the
// whole tensor drew for those heads.
struct HeadSlice {
  std::int64_t offset = 0;
  std::int64_t heads = 0;  // 0: the view's head count (offset must then be 0)
};

// Inverted dropout with masks that are never stored: element (logical flat index f) is kept when
// rng::bits(seed, stream, f) >> 32 >= p * 2^32 and scaled by 1 / (1 - p); dropped elements become 0.
// The same call applies the mask to forward values and to their gradients. p in [0, 1); p = 0 is a
// no-op. Tensors: f = (i * H + h) * D + t; edge values: f = e * H + h in either layout, with H the
// logical head count and h the logical head (slice.heads and slice.offset + the view's head).
void dropout(Tensor3View<float> x, float p, std::uint64_t seed, std::uint64_t stream, HeadSlice slice = {});
void dropout_edges(MatrixView<float> w, EdgeLayout layout, float p, std::uint64_t seed, std::uint64_t stream,
                   HeadSlice slice = {});
// (E, H) edge-major values, and EdgeWeights in their own layout.
void dropout_edges(MatrixView<float> w, float p, std::uint64_t seed, std::uint64_t stream,
                   HeadSlice slice = {});
void dropout_edges(EdgeWeights& w, float p, std::uint64_t seed, std::uint64_t stream, HeadSlice slice = {});

// The integer threshold of p (keep when the top 32 random bits are >= it) and the keep test.
inline std::uint32_t dropout_threshold(float p) {
  const double t = static_cast<double>(p) * 4294967296.0;
  return t >= 4294967295.0 ? 4294967295u : static_cast<std::uint32_t>(t);
}
DIFFUSER_HD inline bool dropout_keep(std::uint64_t seed, std::uint64_t stream, std::uint64_t index,
                                     std::uint32_t threshold) {
  return static_cast<std::uint32_t>(rng::bits(seed, stream, index) >> 32) >= threshold;
}
// The same test split for loops: key = rng::bits' per-(seed, stream) part, computed once
// (rng::bits(seed, stream, i) == rng::mix64(dropout_key(seed, stream) + i); a test checks it).
DIFFUSER_HD inline std::uint64_t dropout_key(std::uint64_t seed, std::uint64_t stream) {
  return rng::mix64(seed ^ rng::mix64(stream + 0x632BE59BD9B4E019ull));
}
DIFFUSER_HD inline bool dropout_keep_key(std::uint64_t key, std::uint64_t index, std::uint32_t threshold) {
  return static_cast<std::uint32_t>(rng::mix64(key + index) >> 32) >= threshold;
}

}  // namespace diffuser::ops
