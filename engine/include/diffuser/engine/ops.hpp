// The engine's message-passing primitives over a Csr (DGL's names in brackets). Each checks its
// arguments (shapes, devices) and runs on the device its operands live on.
#pragma once

#include <cstdint>
#include <memory>

#include <diffuser/engine/bf16.hpp>
#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/tensor.hpp>

namespace diffuser::ops {

// A padding mask over nodes: mask[i] != 0 means token i is real. Empty = every token is real.
// An edge whose source or destination is padding carries zero attention weight.
using NodeMask = Span<const std::uint8_t>;

// How per-edge, per-head values (scores, attention weights) are laid out in a MatrixView.
//   edge_major: (E, H), row e = edge e in CSR order. The public format (--weights-out, the CPU).
//   head_major: (H, E), each head's values contiguous in CSR order. What the CUDA kernels read
//               best: they run one head at a time over all rows (docs/GPU.md).
// A low-level choice of the engine: the rest of the code holds EdgeWeights, which pick it.
// Only the fused primitives (edge_attention, gather_axpby) take both; transpose_edge_values
// converts between the two.
enum class EdgeLayout { edge_major, head_major };

// The layout the fused primitives on `d` run fastest with in the current context (edge_major on
// the CPU; on the GPU the schedule's, head_major by default).
EdgeLayout preferred_edge_layout(Device d);

// The attention weights of a graph's edges, per head, on the graph's device, in the layout that
// device's kernels read fastest (EdgeLayout). Opaque to callers: the primitives take them whole,
// and edge_major() gives the public (E, H) CSR-order values.
class EdgeWeights {
 public:
  EdgeWeights() = default;
  // For g's edges and `heads` heads, on g's device, in the current context's preferred layout.
  EdgeWeights(const CsrView& g, std::int64_t heads);

  std::int64_t edges() const { return edges_; }
  std::int64_t heads() const { return heads_; }
  Device device() const { return m_.device(); }
  // (E, H) in CSR order, on the same device (a transposed copy when stored head-major).
  Matrix<float> edge_major() const;

  // The engine's access (the primitives).
  EdgeLayout layout() const { return layout_; }
  MatrixView<float> matrix() { return m_.view(); }
  MatrixView<const float> matrix() const { return m_.view(); }

 private:
  Matrix<float> m_;
  EdgeLayout layout_ = EdgeLayout::edge_major;
  std::int64_t edges_ = 0, heads_ = 0;
};

// A primitive's rows in two passes, so that the caller can overlap communication with the first
// (the halo exchange of distributed token partitioning). `first` has one byte per row of the graph
// the primitive walks (g; for hop_backward the reverse graph's rows, i.e. the sources): nonzero
// marks the rows wanted in the first pass. The first pass (second == false) computes the backend's
// units of work (a row, or rows computed together: a CPU panel chunk, a hub-row chunk) whose rows
// are all marked, and reads its inputs only at those rows and at their edges' sources; the second
// pass computes every other unit. Together the two passes write each row once, with the arithmetic
// of a single call: the same result bit for bit. Empty `first` (the default): one call, every row.
// On the GPU the whole graph is one unit: the first pass does nothing, the second computes it all.
// Float32 only (edge_attention on the CPU: with edge-major weights, its own layout).
struct RowPass {
  Span<const std::uint8_t> first;
  bool second = false;
};

// [u_dot_v, SDDMM] scores[e, h] = scale * <q[dst(e), h, :], k[src(e), h, :]> for every edge e.
// q, k: (N, H, D); scores: (E, H) in CSR order.
void edge_dot(const CsrView& g, Tensor3View<const float> q, Tensor3View<const float> k, float scale,
              MatrixView<float> scores);
void edge_dot(const CsrView& g, Tensor3View<const bf16> q, Tensor3View<const bf16> k, float scale,
              MatrixView<float> scores);

// [edge_softmax by dst] In place: per destination row and head, w = exp(s - max) / sum over the
// row's unmasked edges. Masked edges and rows with no unmasked edge get weight 0.
void edge_softmax(const CsrView& g, MatrixView<float> scores, NodeMask mask = {});

// [u_mul_e + sum, SpMM] out[i, h, :] = sum over edges e = j -> i of w[e, h] * x[j, h, :].
// Rows with no edge get zeros.
void gather_sum(const CsrView& g, MatrixView<const float> w, Tensor3View<const float> x,
                Tensor3View<float> out);
void gather_sum(const CsrView& g, MatrixView<const float> w, Tensor3View<const bf16> x,
                Tensor3View<bf16> out);

// out = a * x + b * y, elementwise over (N, H, D). out may alias x or y.
void node_axpby(float a, Tensor3View<const float> x, float b, Tensor3View<const float> y,
                Tensor3View<float> out);
void node_axpby(float a, Tensor3View<const bf16> x, float b, Tensor3View<const bf16> y,
                Tensor3View<bf16> out);

// Fused edge_dot + edge_softmax: one pass over the edges, scores never stored. `weights` is
// (E, H) for edge_major, (H, E) for head_major.
void edge_attention(const CsrView& g, Tensor3View<const float> q, Tensor3View<const float> k, float scale,
                    NodeMask mask, MatrixView<float> weights, EdgeLayout layout = EdgeLayout::edge_major,
                    RowPass pass = {});
void edge_attention(const CsrView& g, Tensor3View<const bf16> q, Tensor3View<const bf16> k, float scale,
                    NodeMask mask, MatrixView<float> weights, EdgeLayout layout = EdgeLayout::edge_major);

// The same into EdgeWeights (their own layout; their heads must be q's, their edges the graph's).
void edge_attention(const CsrView& g, Tensor3View<const float> q, Tensor3View<const float> k, float scale,
                    NodeMask mask, EdgeWeights& weights, RowPass pass = {});
void edge_attention(const CsrView& g, Tensor3View<const bf16> q, Tensor3View<const bf16> k, float scale,
                    NodeMask mask, EdgeWeights& weights);

// Fused gather_sum + node_axpby (one diffusion hop): out = a * (W x) + b * y. With b == 0 the
// view y may be empty. out must not alias x (rows of x are read while out is written).
// bf16: x, y and out are bf16; weights and accumulation are float32, out is rounded once.
void gather_axpby(const CsrView& g, MatrixView<const float> w, float a, Tensor3View<const float> x, float b,
                  Tensor3View<const float> y, Tensor3View<float> out,
                  EdgeLayout layout = EdgeLayout::edge_major);
void gather_axpby(const CsrView& g, MatrixView<const float> w, float a, Tensor3View<const bf16> x, float b,
                  Tensor3View<const bf16> y, Tensor3View<bf16> out,
                  EdgeLayout layout = EdgeLayout::edge_major);

void gather_axpby(const CsrView& g, const EdgeWeights& w, float a, Tensor3View<const float> x, float b,
                  Tensor3View<const float> y, Tensor3View<float> out);
void gather_axpby(const CsrView& g, const EdgeWeights& w, float a, Tensor3View<const bf16> x, float b,
                  Tensor3View<const bf16> y, Tensor3View<bf16> out);

// Weights prepared once for several hops over the same graph (the diffusion's K hops) on rows
// shaped like x_like. On the GPU with bf16 rows and D = 64 the weights are packed for the
// tensor-core hop (per 32-row tile, the sources most of its rows share as a dense bf16 block, the
// other edges as a list: docs/GPU.md section 10); otherwise nothing is copied and the hops read w.
// The per-graph panel plan is built on the device at the first prepare_hops on a graph and kept in
// its plans (panel=0 in the context's CUDA schedule turns the panels off).
// The packed copy is a snapshot: later changes to w are not seen. g and w must outlive the
// HopWeights; the packed weights take (H * tiles * 32 * S * 2 + H * listed * 4) bytes of device
// memory (about 0.55x the float32 weights in the authors' recipe).
struct HopWeights {
  MatrixView<const float> w;
  EdgeLayout layout = EdgeLayout::edge_major;
  std::shared_ptr<const void> packed;  // the backend's packed copy, null when none
};
HopWeights prepare_hops(const CsrView& g, MatrixView<const float> w, EdgeLayout layout,
                        Tensor3View<const float> x_like);
HopWeights prepare_hops(const CsrView& g, MatrixView<const float> w, EdgeLayout layout,
                        Tensor3View<const bf16> x_like);
HopWeights prepare_hops(const CsrView& g, MatrixView<const float> w,
                        Tensor3View<const float> x_like);  // (E, H)
HopWeights prepare_hops(const CsrView& g, const EdgeWeights& w, Tensor3View<const float> x_like);
HopWeights prepare_hops(const CsrView& g, const EdgeWeights& w, Tensor3View<const bf16> x_like);
// gather_axpby over prepared weights: the same result as over w (up to the bf16 rounding of the
// packed block weights).
void gather_axpby(const CsrView& g, const HopWeights& w, float a, Tensor3View<const float> x, float b,
                  Tensor3View<const float> y, Tensor3View<float> out, RowPass pass = {});
void gather_axpby(const CsrView& g, const HopWeights& w, float a, Tensor3View<const bf16> x, float b,
                  Tensor3View<const bf16> y, Tensor3View<bf16> out);

// Counts NaN and Inf values of a tensor; returns the flat index of the first one, or -1.
std::int64_t find_non_finite(Tensor3View<const float> x);
std::int64_t find_non_finite(Tensor3View<const bf16> x);

// Element type conversion on the tensors' device (same shape; float -> bf16 rounds to nearest even).
void convert(Tensor3View<const float> x, Tensor3View<bf16> out);
void convert(Tensor3View<const bf16> x, Tensor3View<float> out);

// out = in transposed: (R, C) -> (C, R), on the views' device; converts per-edge values between
// edge_major and head_major. out must not overlap in.
void transpose_edge_values(MatrixView<const float> in, MatrixView<float> out);

// Csr::from_edges on the device the edge arrays live on (CUDA: a radix sort of (dst, src) keys,
// unique, and row offsets from the sorted keys, all on the GPU). Same result as Csr::from_edges;
// throws Error naming the first edge with an endpoint outside [0, n).
Csr csr_from_edges(std::int64_t n, Span<const std::int32_t> src, Span<const std::int32_t> dst);

}  // namespace diffuser::ops
