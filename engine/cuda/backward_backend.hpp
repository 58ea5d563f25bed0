// The CUDA backend's gradient entry points, declared without CUDA types (every engine .cpp
// compiles without the toolkit). Implemented in engine/cuda/backward_*.cu, or by
// engine/src/no_cuda_backward.cpp in builds without CUDA; ops_backward.cpp checks arguments first.
#pragma once

#include <cstdint>

#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/ops_backward.hpp>
#include <diffuser/engine/tensor.hpp>

namespace diffuser::cuda::grad {

void scatter_axpby(const ReverseView& rg, MatrixView<const float> w, float a, Tensor3View<const float> y,
                   float b, Tensor3View<const float> z, Tensor3View<float> out);
void edge_softmax_backward(const CsrView& g, MatrixView<const float> w, MatrixView<float> grad);
void hop_backward(const ReverseView& rg, MatrixView<const float> w, float a, Tensor3View<const float> p,
                  Tensor3View<const float> x, float c, Tensor3View<const float> y, MatrixView<float> dw,
                  Tensor3View<float> out);
void attention_backward(const CsrView& g, const ReverseView& rg, Tensor3View<const float> q,
                        Tensor3View<const float> k, float scale, MatrixView<const float> w,
                        MatrixView<float> grad, Tensor3View<float> dq, Tensor3View<float> dk);
// inverse = false: out[t] = in[perm[t]]; true: out[perm[t]] = in[t].
void permute_edges(const ReverseView& rg, MatrixView<const float> in, MatrixView<float> out, bool inverse);
// slice: resolved (heads > 0), the logical head offset and count of the masks.
void dropout(Tensor3View<float> x, float p, std::uint64_t seed, std::uint64_t stream, ops::HeadSlice slice);
void dropout_edges(MatrixView<float> w, bool head_major, float p, std::uint64_t seed, std::uint64_t stream,
                   ops::HeadSlice slice);

}  // namespace diffuser::cuda::grad
