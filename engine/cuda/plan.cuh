// Per-graph facts the kernels need that cost a pass over row_ptr: which rows are hubs (in-degree
// far above the mean: the global tokens of the authors' recipe, in-degree N). Found on the device
// on a graph's first use and kept in its plans (GraphPlans: freed with the graph); a bare view
// finds them for the call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/csr.hpp>

namespace diffuser::cuda {

inline constexpr std::int64_t kNoHubs = INT64_MAX;

struct HubPlan {
  std::int64_t threshold = kNoHubs;  // rows with degree > threshold are hubs
  std::int64_t n_hubs = 0;
  const std::int32_t* hubs = nullptr;  // device array of the hub row ids, ascending
  std::shared_ptr<const void> owner;   // keeps `hubs` alive (the graph's plans, or this call)
};

// The plan under the current context's hub rule.
HubPlan hub_plan(const CsrView& g);

}  // namespace diffuser::cuda
