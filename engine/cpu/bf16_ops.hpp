// The CPU backend's bf16 primitives and layout helpers. bf16 tensors are converted to float32,
// the float32 kernels run, and results are rounded back once: simple, and exactly the arithmetic
// the GPU does (float32 accumulation, one rounding on store).
#pragma once

#include <cstdint>

#include <diffuser/engine/bf16.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/tensor.hpp>

namespace diffuser::cpu {

void edge_dot(const CsrView& g, Tensor3View<const bf16> q, Tensor3View<const bf16> k, float scale,
              MatrixView<float> scores);
void edge_attention(const CsrView& g, Tensor3View<const bf16> q, Tensor3View<const bf16> k, float scale,
                    Span<const std::uint8_t> mask, MatrixView<float> weights);
void gather_axpby(const CsrView& g, MatrixView<const float> w, float a, Tensor3View<const bf16> x, float b,
                  Tensor3View<const bf16> y, Tensor3View<bf16> out);
void node_axpby(float a, Tensor3View<const bf16> x, float b, Tensor3View<const bf16> y,
                Tensor3View<bf16> out);
std::int64_t find_non_finite(Tensor3View<const bf16> x);
void convert(Tensor3View<const float> x, Tensor3View<bf16> out);
void convert(Tensor3View<const bf16> x, Tensor3View<float> out);
// (R, C) -> (C, R).
void transpose(MatrixView<const float> in, MatrixView<float> out);

}  // namespace diffuser::cpu
