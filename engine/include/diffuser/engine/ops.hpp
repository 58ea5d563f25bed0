// The engine's message-passing primitives over a Csr (DGL's names in brackets). Each checks its
// arguments (shapes, devices) and runs on the device its operands live on.
#pragma once

#include <cstdint>

#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/tensor.hpp>

namespace diffuser::ops {

// A padding mask over nodes: mask[i] != 0 means token i is real. Empty = every token is real.
// An edge whose source or destination is padding carries zero attention weight.
using NodeMask = Span<const std::uint8_t>;

// [u_dot_v, SDDMM] scores[e, h] = scale * <q[dst(e), h, :], k[src(e), h, :]> for every edge e.
// q, k: (N, H, D); scores: (E, H) in CSR order.
void edge_dot(const CsrView& g, Tensor3View<const float> q, Tensor3View<const float> k,
              float scale, MatrixView<float> scores);

// [edge_softmax by dst] In place: per destination row and head, w = exp(s - max) / sum over the
// row's unmasked edges. Masked edges and rows with no unmasked edge get weight 0.
void edge_softmax(const CsrView& g, MatrixView<float> scores, NodeMask mask = {});

// [u_mul_e + sum, SpMM] out[i, h, :] = sum over edges e = j -> i of w[e, h] * x[j, h, :].
// Rows with no edge get zeros.
void gather_sum(const CsrView& g, MatrixView<const float> w, Tensor3View<const float> x,
                Tensor3View<float> out);

// out = a * x + b * y, elementwise over (N, H, D). out may alias x or y.
void node_axpby(float a, Tensor3View<const float> x, float b, Tensor3View<const float> y,
                Tensor3View<float> out);

// Fused edge_dot + edge_softmax: one pass over the edges, scores never stored.
void edge_attention(const CsrView& g, Tensor3View<const float> q, Tensor3View<const float> k,
                    float scale, NodeMask mask, MatrixView<float> weights);

// Fused gather_sum + node_axpby (one diffusion hop): out = a * (W x) + b * y. With b == 0 the
// view y may be empty. out must not alias x (rows of x are read while out is written).
void gather_axpby(const CsrView& g, MatrixView<const float> w, float a, Tensor3View<const float> x,
                  float b, Tensor3View<const float> y, Tensor3View<float> out);

// Counts NaN and Inf values of a tensor; returns the flat index of the first one, or -1.
std::int64_t find_non_finite(Tensor3View<const float> x);

}  // namespace diffuser::ops
