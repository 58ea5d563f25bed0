// The CUDA backend of a build without CUDA: every entry point explains that, none crashes.
#include <diffuser/engine/error.hpp>

#include "../cuda/backend.hpp"

namespace diffuser::cuda {

namespace {
[[noreturn]] void unavailable() {
  throw Error(
      "this build of diffuser has no CUDA backend (configure with -DDIFFUSER_CUDA=ON on a "
      "machine with nvcc)");
}
}  // namespace

bool available(std::string* why) {
  if (why) *why = "this build of diffuser has no CUDA backend";
  return false;
}
std::string describe() {
  return "no CUDA backend in this build";
}

void* alloc(std::size_t) {
  unavailable();
}
void free(void*) noexcept {}
void copy(void*, bool, const void*, bool, std::size_t) {
  unavailable();
}
void memset_zero(void*, std::size_t) {
  unavailable();
}
void synchronize() {}
void* stream_create(int) {
  unavailable();
}
void stream_destroy(void*, int) noexcept {}
void stream_synchronize(void*) {
  unavailable();
}
double graph_replay_ms(const std::function<void()>&, int) {
  unavailable();
}
bool prefers_head_major() {
  return false;
}

void edge_dot(const CsrView&, Tensor3View<const float>, Tensor3View<const float>, float, MatrixView<float>) {
  unavailable();
}
void edge_dot(const CsrView&, Tensor3View<const bf16>, Tensor3View<const bf16>, float, MatrixView<float>) {
  unavailable();
}
void edge_softmax(const CsrView&, MatrixView<float>, Span<const std::uint8_t>) {
  unavailable();
}
void node_axpby(float, Tensor3View<const float>, float, Tensor3View<const float>, Tensor3View<float>) {
  unavailable();
}
void node_axpby(float, Tensor3View<const bf16>, float, Tensor3View<const bf16>, Tensor3View<bf16>) {
  unavailable();
}
void edge_attention(const CsrView&, Tensor3View<const float>, Tensor3View<const float>, float,
                    Span<const std::uint8_t>, float*, EdgeStrides) {
  unavailable();
}
void edge_attention(const CsrView&, Tensor3View<const bf16>, Tensor3View<const bf16>, float,
                    Span<const std::uint8_t>, float*, EdgeStrides) {
  unavailable();
}
void gather_axpby(const CsrView&, const float*, EdgeStrides, float, Tensor3View<const float>, float,
                  Tensor3View<const float>, Tensor3View<float>) {
  unavailable();
}
void gather_axpby(const CsrView&, const float*, EdgeStrides, float, Tensor3View<const bf16>, float,
                  Tensor3View<const bf16>, Tensor3View<bf16>) {
  unavailable();
}
std::shared_ptr<const void> pack_hop_weights(const CsrView&, const float*, EdgeStrides, std::int64_t) {
  unavailable();
}
void gather_axpby(const CsrView&, const float*, EdgeStrides, const void*, float, Tensor3View<const bf16>,
                  float, Tensor3View<const bf16>, Tensor3View<bf16>) {
  unavailable();
}
std::int64_t find_non_finite(Tensor3View<const float>) {
  unavailable();
}
std::int64_t find_non_finite(Tensor3View<const bf16>) {
  unavailable();
}
void convert(Tensor3View<const float>, Tensor3View<bf16>) {
  unavailable();
}
void convert(Tensor3View<const bf16>, Tensor3View<float>) {
  unavailable();
}
void transpose(MatrixView<const float>, MatrixView<float>) {
  unavailable();
}
Csr csr_from_edges(std::int64_t, const std::int32_t*, const std::int32_t*, std::int64_t, std::int64_t*) {
  unavailable();
}

std::int64_t bytes_in_use() {
  return 0;
}
std::int64_t peak_bytes() {
  return 0;
}
void reset_peak_bytes() {}
double copy_gbps(std::int64_t, int) {
  unavailable();
}
std::string panel_builder_differences(const CsrView&) {
  unavailable();
}
std::int64_t panel_edges(const CsrView&) {
  return 0;
}

}  // namespace diffuser::cuda
