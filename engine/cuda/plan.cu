#include <algorithm>
#include <mutex>
#include <vector>

#include "backend.hpp"
#include "common.cuh"
#include "panel_plan.hpp"
#include "plan.cuh"
#include "schedule.cuh"

namespace diffuser::cuda {

namespace {

struct Entry {
  const std::int64_t* row_ptr;
  const std::int32_t* col;
  std::int64_t n, nnz, threshold, n_hubs;
  std::int32_t* hubs;  // owned (alloc), nullptr when n_hubs == 0
};

struct Cache {
  std::mutex mu;
  std::vector<Entry> entries;
  float* scratch = nullptr;
  std::size_t scratch_floats = 0;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: Buffers may be freed during exit
  return *c;
}

std::int64_t threshold_for(const CsrView& g) {
  const std::int64_t rule = current_schedule().hub;
  if (rule < 0 || g.n == 0) return kNoHubs;
  if (rule > 0) return rule;
  const std::int64_t mean = (g.nnz + g.n - 1) / g.n;
  return std::max<std::int64_t>(1024, std::min<std::int64_t>(4096, 8 * mean));
}

}  // namespace

HubPlan hub_plan(const CsrView& g) {
  const std::int64_t threshold = threshold_for(g);
  if (threshold == kNoHubs || g.nnz <= threshold) return HubPlan{kNoHubs, 0, nullptr};
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    for (const Entry& e : c.entries)
      if (e.row_ptr == g.row_ptr && e.col == g.col && e.n == g.n && e.nnz == g.nnz &&
          e.threshold == threshold)
        return HubPlan{e.n_hubs ? threshold : kNoHubs, e.n_hubs, e.hubs};
  }
  std::vector<std::int64_t> rp(static_cast<std::size_t>(g.n + 1));
  copy(rp.data(), false, g.row_ptr, true, rp.size() * sizeof(std::int64_t));
  std::vector<std::int32_t> hubs;
  for (std::int64_t i = 0; i < g.n; ++i)
    if (rp[i + 1] - rp[i] > threshold) hubs.push_back(static_cast<std::int32_t>(i));
  std::int32_t* d_hubs = nullptr;
  if (!hubs.empty()) {
    d_hubs = static_cast<std::int32_t*>(alloc(hubs.size() * sizeof(std::int32_t)));
    copy(d_hubs, true, hubs.data(), false, hubs.size() * sizeof(std::int32_t));
  }
  const auto n_hubs = static_cast<std::int64_t>(hubs.size());
  std::lock_guard<std::mutex> lock(c.mu);
  c.entries.push_back(Entry{g.row_ptr, g.col, g.n, g.nnz, threshold, n_hubs, d_hubs});
  return HubPlan{n_hubs ? threshold : kNoHubs, n_hubs, d_hubs};
}

float* hub_scratch(std::size_t floats) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  if (floats > c.scratch_floats) {
    const std::size_t grown = std::max(floats, c.scratch_floats * 3 / 2);
    release(c.scratch);  // cudaFree waits for kernels still using the old buffer
    c.scratch = nullptr;
    c.scratch_floats = 0;
    c.scratch = static_cast<float*>(alloc(grown * sizeof(float)));
    c.scratch_floats = grown;
  }
  return c.scratch;
}

void forget_plans_using(const void* p) noexcept {
  std::vector<std::int32_t*> drop;
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = std::remove_if(c.entries.begin(), c.entries.end(), [&](const Entry& e) {
      if (e.row_ptr != p && e.col != p) return false;
      if (e.hubs) drop.push_back(e.hubs);
      return true;
    });
    c.entries.erase(it, c.entries.end());
  }
  for (auto* h : drop) release(h);
  forget_panels_using(p);
}

}  // namespace diffuser::cuda
