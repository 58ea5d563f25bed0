// baselines.hpp: argument checks, then the CUDA backend (or its no-CUDA stubs).
#include <diffuser/engine/baselines.hpp>
#include <diffuser/engine/error.hpp>

#include "../cuda/backend.hpp"

namespace diffuser::baselines {

namespace {
void check_inputs(const char* op, const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                  Tensor3View<const float> v, Tensor3View<float> out, int hops, int reps) {
  DIFFUSER_CHECK(g.device() == Device::cuda, op, ": the graph must be on the GPU");
  for (auto* t : {&q, &k, &v}) {
    DIFFUSER_CHECK(t->device == Device::cuda && t->contiguous(), op,
                   ": q, k, v must be contiguous on the GPU");
    DIFFUSER_CHECK(t->n == g.num_nodes() && t->h == q.h && t->d == q.d, op, ": q, k, v shapes differ");
  }
  DIFFUSER_CHECK(
      out.device == Device::cuda && out.contiguous() && out.n == q.n && out.h == q.h && out.d == q.d, op,
      ": out must be a contiguous (N, H, D) GPU tensor");
  DIFFUSER_CHECK(hops >= 0 && reps >= 1, op, ": hops >= 0 and reps >= 1 needed");
}
}  // namespace

std::int64_t device_bytes_in_use() {
  return cuda::bytes_in_use();
}
std::int64_t peak_device_bytes() {
  return cuda::peak_bytes();
}
void reset_peak_device_bytes() {
  cuda::reset_peak_bytes();
}

double cuda_graph_replay_ms(const std::function<void()>& f, int replays) {
  DIFFUSER_CHECK(replays >= 1, "cuda_graph_replay_ms: replays must be positive");
  require_device(Device::cuda);
  return cuda::graph_replay_ms(f, replays);
}

double device_copy_gbps(std::int64_t bytes, int reps) {
  DIFFUSER_CHECK(bytes > 0 && reps > 0, "device_copy_gbps: bytes and reps must be positive");
  return cuda::copy_gbps(bytes, reps);
}

Timing cusparse_forward(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                        Tensor3View<const float> v, int hops, float alpha, Tensor3View<float> out, int reps) {
  check_inputs("cusparse_forward", g, q, k, v, out, hops, reps);
  return cuda::cusparse_forward(g, q, k, v, hops, alpha, out, reps);
}

Timing dense_forward(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                     Tensor3View<const float> v, int hops, float alpha, Tensor3View<float> out, int reps,
                     std::int64_t max_n) {
  check_inputs("dense_forward", g, q, k, v, out, hops, reps);
  DIFFUSER_CHECK(g.num_nodes() <= max_n, "dense_forward: N = ", g.num_nodes(), " is above the limit ", max_n,
                 " (H*N*N*4 bytes of scores)");
  return cuda::dense_forward(g, q, k, v, hops, alpha, out, reps, max_n);
}

std::int64_t cuda_panel_edges(const Csr& g) {
  DIFFUSER_CHECK(g.device() == Device::cuda, "cuda_panel_edges: the graph must be on the GPU");
  return cuda::panel_edges(g.view());
}
std::string cuda_panel_plan_differences(const Csr& g) {
  DIFFUSER_CHECK(g.device() == Device::cuda, "cuda_panel_plan_differences: the graph must be on the GPU");
  return cuda::panel_builder_differences(g.view());
}

}  // namespace diffuser::baselines
