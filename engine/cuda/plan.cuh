// Per-graph facts the kernels need that cost a pass over row_ptr: which rows are hubs (in-degree
// far above the mean: the global tokens of the authors' recipe, in-degree N). Computed once per
// graph on first use (one copy of row_ptr to the host), cached by the graph's device pointers,
// and dropped when those are freed. Also the scratch of the hub path, grown once and reused.
#pragma once

#include <cstddef>
#include <cstdint>

#include <diffuser/engine/csr.hpp>

namespace diffuser::cuda {

inline constexpr std::int64_t kNoHubs = INT64_MAX;

struct HubPlan {
  std::int64_t threshold = kNoHubs;  // rows with degree > threshold are hubs
  std::int64_t n_hubs = 0;
  const std::int32_t* hubs = nullptr;  // device array of the hub row ids, ascending
};

// The plan under the current schedule's hub rule.
HubPlan hub_plan(const CsrView& g);

// Device scratch of at least `floats` floats (contents undefined), kept between calls.
float* hub_scratch(std::size_t floats);

// Drops cached plans of graphs whose row_ptr or col is `p` (called by cuda::free).
void forget_plans_using(const void* p) noexcept;

}  // namespace diffuser::cuda
