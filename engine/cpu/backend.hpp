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
void edge_attention(const CsrView& g, Tensor3View<const float> q, Tensor3View<const float> k, float scale,
                    Span<const std::uint8_t> mask, MatrixView<float> weights);
void gather_axpby(const CsrView& g, MatrixView<const float> w, float a, Tensor3View<const float> x, float b,
                  Tensor3View<const float> y, Tensor3View<float> out);
std::int64_t find_non_finite(Tensor3View<const float> x);

// ops_bits.hpp (bitsets of `words` 64-bit words per node, node-major).
void frontier_pull(const CsrView& g, const std::uint64_t* frontier, std::uint64_t* next, std::int64_t words);
void frontier_advance(const std::uint64_t* next, std::uint64_t* visited, std::uint64_t* frontier,
                      std::int64_t words, std::int64_t n, std::int64_t* new_counts);

}  // namespace diffuser::cpu
