// The CPU (TBB) backend's entry points; ops.cpp has checked every argument before calling them.
#pragma once

#include <cstdint>

#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/tensor.hpp>

namespace diffuser::cpu {

void edge_dot(const CsrView& g, Tensor3View<const float> q, Tensor3View<const float> k, float scale,
              MatrixView<float> scores);
void edge_softmax(const CsrView& g, MatrixView<float> scores, Span<const std::uint8_t> mask);
void gather_sum(const CsrView& g, MatrixView<const float> w, Tensor3View<const float> x,
                Tensor3View<float> out);
void node_axpby(float a, Tensor3View<const float> x, float b, Tensor3View<const float> y,
                Tensor3View<float> out);
void edge_attention(const CsrView& g, Tensor3View<const float> q, Tensor3View<const float> k,
                    float scale, Span<const std::uint8_t> mask, MatrixView<float> weights);
void gather_axpby(const CsrView& g, MatrixView<const float> w, float a, Tensor3View<const float> x,
                  float b, Tensor3View<const float> y, Tensor3View<float> out);
std::int64_t find_non_finite(Tensor3View<const float> x);

}  // namespace diffuser::cpu
