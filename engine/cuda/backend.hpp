// The CUDA backend's entry points, declared without CUDA types so that every engine .cpp compiles
// without the toolkit. Implemented in engine/cuda/*.cu, or by engine/src/no_cuda.cpp (which
// throws "built without CUDA") when the build has no CUDA backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/tensor.hpp>

namespace diffuser::cuda {

bool available(std::string* why);
std::string describe();

void* alloc(std::size_t bytes);
void free(void* p) noexcept;
void copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, std::size_t bytes);
void memset_zero(void* p, std::size_t bytes);
void synchronize();

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

}  // namespace diffuser::cuda
