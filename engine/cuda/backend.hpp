// The CUDA backend's entry points, declared without CUDA types so that every engine .cpp compiles
// without the toolkit. Implemented in engine/cuda/*.cu, or by engine/src/no_cuda.cpp (which
// throws "built without CUDA") when the build has no CUDA backend. ops.cpp has checked every
// argument before calling them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <diffuser/engine/baselines.hpp>
#include <diffuser/engine/bf16.hpp>
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
void* stream_create(int device);
void stream_destroy(void* stream, int device) noexcept;
void stream_synchronize(void* stream);
// Captures what f enqueues on the current context's stream into a CUDA graph, then replays it
// `replays` times; returns the median ms of one replay (baselines::cuda_graph_replay_ms).
double graph_replay_ms(const std::function<void()>& f, int replays);

// Per-edge values: element (e, h) lives at w[e * se + h * sh] (edge-major: se = H, sh = 1;
// head-major: se = 1, sh = E).
struct EdgeStrides {
  std::int64_t se = 0, sh = 0;
};
bool prefers_head_major();

void edge_dot(const CsrView& g, Tensor3View<const float> q, Tensor3View<const float> k, float scale,
              MatrixView<float> scores);
void edge_dot(const CsrView& g, Tensor3View<const bf16> q, Tensor3View<const bf16> k, float scale,
              MatrixView<float> scores);
void edge_softmax(const CsrView& g, MatrixView<float> scores, Span<const std::uint8_t> mask);
void node_axpby(float a, Tensor3View<const float> x, float b, Tensor3View<const float> y,
                Tensor3View<float> out);
void node_axpby(float a, Tensor3View<const bf16> x, float b, Tensor3View<const bf16> y,
                Tensor3View<bf16> out);
void edge_attention(const CsrView& g, Tensor3View<const float> q, Tensor3View<const float> k, float scale,
                    Span<const std::uint8_t> mask, float* weights, EdgeStrides ws);
void edge_attention(const CsrView& g, Tensor3View<const bf16> q, Tensor3View<const bf16> k, float scale,
                    Span<const std::uint8_t> mask, float* weights, EdgeStrides ws);
void gather_axpby(const CsrView& g, const float* w, EdgeStrides ws, float a, Tensor3View<const float> x,
                  float b, Tensor3View<const float> y, Tensor3View<float> out);
void gather_axpby(const CsrView& g, const float* w, EdgeStrides ws, float a, Tensor3View<const bf16> x,
                  float b, Tensor3View<const bf16> y, Tensor3View<bf16> out);
// ops::prepare_hops: the weights packed for the bf16 tensor-core hop (hop_panel.cuh), or null when
// the graph's panels do not pay or the schedule turns them off. The hop falls back to the plain
// one when the packed copy does not fit the call (other graph, heads, head size or hub rule).
std::shared_ptr<const void> pack_hop_weights(const CsrView& g, const float* w, EdgeStrides ws,
                                             std::int64_t heads);
void gather_axpby(const CsrView& g, const float* w, EdgeStrides ws, const void* packed, float a,
                  Tensor3View<const bf16> x, float b, Tensor3View<const bf16> y, Tensor3View<bf16> out);
std::int64_t find_non_finite(Tensor3View<const float> x);
std::int64_t find_non_finite(Tensor3View<const bf16> x);
void convert(Tensor3View<const float> x, Tensor3View<bf16> out);
void convert(Tensor3View<const bf16> x, Tensor3View<float> out);
void transpose(MatrixView<const float> in, MatrixView<float> out);

// Sorted, deduplicated CSR arrays from device edge arrays (validated: returns the index of the
// first edge with an endpoint outside [0, n) in *bad, else -1 and fills row_ptr/col).
Csr csr_from_edges(std::int64_t n, const std::int32_t* src, const std::int32_t* dst, std::int64_t m,
                   std::int64_t* bad);

// baselines.hpp
std::int64_t bytes_in_use();
std::int64_t peak_bytes();
void reset_peak_bytes();
double copy_gbps(std::int64_t bytes, int reps);
// The in-process GPU baselines (diffuser_baselines: cuda/baseline_*.cu, or their stubs).
baselines::Timing cusparse_forward(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                                   Tensor3View<const float> v, int hops, float alpha, Tensor3View<float> out,
                                   int reps);
baselines::Timing dense_forward(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                                Tensor3View<const float> v, int hops, float alpha, Tensor3View<float> out,
                                int reps, std::int64_t max_n);
std::int64_t panel_edges(const CsrView& g);  // baselines::cuda_panel_edges
// "" when the device and host panel builders agree on g (baselines::cuda_panel_plan_differences).
std::string panel_builder_differences(const CsrView& g);

// ops_bits.hpp (bitsets of `words` 64-bit words per node, node-major).
void frontier_pull(const CsrView& g, const std::uint64_t* frontier, std::uint64_t* next, std::int64_t words);
void frontier_advance(const std::uint64_t* next, std::uint64_t* visited, std::uint64_t* frontier,
                      std::int64_t words, std::int64_t n, std::int64_t* new_counts);

}  // namespace diffuser::cuda
