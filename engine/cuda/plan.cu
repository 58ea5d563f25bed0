// The hub rows of a graph, found on the device (one pass over row_ptr and a stream compaction),
// kept in the graph's plans.
#include <algorithm>
#include <string>

#include <thrust/iterator/counting_iterator.h>
#include <cub/device/device_select.cuh>

#include "../src/cuda_schedule.hpp"
#include "../src/graph_plans_store.hpp"
#include "backend.hpp"
#include "common.cuh"
#include "plan.cuh"

namespace diffuser::cuda {

namespace {

std::int64_t threshold_for(const CsrView& g) {
  const std::int64_t rule = current_schedule().hub;
  if (rule < 0 || g.n == 0) return kNoHubs;
  if (rule > 0) return rule;
  const std::int64_t mean = (g.nnz + g.n - 1) / g.n;
  return std::max<std::int64_t>(1024, std::min<std::int64_t>(4096, 8 * mean));
}

struct IsHub {
  const std::int64_t* row_ptr;
  std::int64_t threshold;
  __device__ bool operator()(std::int32_t i) const { return row_ptr[i + 1] - row_ptr[i] > threshold; }
};

struct HubRows {
  Buffer<std::int32_t> ids;
  std::int64_t n_hubs = 0;
};

// Hub row ids, ascending, with one 8-byte copy to the host (the count sizes every hub launch).
std::shared_ptr<const HubRows> find_hubs(const CsrView& g, std::int64_t threshold) {
  auto out = std::make_shared<HubRows>();
  const cudaStream_t stream = current_stream();
  const auto n = static_cast<std::int32_t>(g.n);
  Buffer<std::int32_t> ids(g.n, Device::cuda);
  Buffer<std::int64_t> count(1, Device::cuda);
  const thrust::counting_iterator<std::int32_t> rows(0);
  std::size_t temp_bytes = 0;
  DIFFUSER_CUDA_CHECK(cub::DeviceSelect::If(nullptr, temp_bytes, rows, ids.data(), count.data(), n,
                                            IsHub{g.row_ptr, threshold}, stream));
  Buffer<char> temp(static_cast<std::int64_t>(temp_bytes), Device::cuda);
  DIFFUSER_CUDA_CHECK(cub::DeviceSelect::If(temp.data(), temp_bytes, rows, ids.data(), count.data(), n,
                                            IsHub{g.row_ptr, threshold}, stream));
  copy(&out->n_hubs, false, count.data(), true, sizeof out->n_hubs);  // synchronises the stream
  out->ids = std::move(ids);
  return out;
}

}  // namespace

HubPlan hub_plan(const CsrView& g) {
  const std::int64_t threshold = threshold_for(g);
  if (threshold == kNoHubs || g.nnz <= threshold) return HubPlan{};
  std::shared_ptr<const HubRows> rows;
  if (g.plans != nullptr)
    rows = g.plans->store().get<HubRows>(cat("cuda-hubs degree>", threshold), [&] {
      auto r = find_hubs(g, threshold);
      const std::int64_t bytes = r->ids.size() * 4;
      return std::pair{std::move(r), bytes};
    });
  else
    rows = find_hubs(g, threshold);
  if (rows->n_hubs == 0) return HubPlan{};
  return HubPlan{threshold, rows->n_hubs, rows->ids.data(), rows};
}

}  // namespace diffuser::cuda
