// The storage behind GraphPlans (engine-internal): typed entries under a key that names the kind of
// plan and every option it was built for ("cpu-panels R=32 share=50 ..."). Plans are immutable once
// stored; a lookup hands out shared ownership, so a plan outlives clear() while a call still uses it.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <diffuser/engine/graph_plans.hpp>

namespace diffuser {

struct GraphPlans::Store {
  struct Entry {
    std::string key;
    std::shared_ptr<const void> plan;
    std::int64_t bytes = 0;
  };
  mutable std::mutex mu;
  std::vector<Entry> entries;

  // The plan stored under `key`, else build() (returning {plan, bytes}) stored and returned. The
  // build runs outside the lock: it may run TBB loops, whose threads may take other tasks that
  // look up this graph's plans.
  template <class T, class Build>
  std::shared_ptr<const T> get(const std::string& key, Build&& build) {
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const Entry& e : entries)
        if (e.key == key) return std::static_pointer_cast<const T>(e.plan);
    }
    auto [plan, bytes] = build();
    std::shared_ptr<const T> built = std::move(plan);
    std::lock_guard<std::mutex> lock(mu);
    for (const Entry& e : entries)
      if (e.key == key) return std::static_pointer_cast<const T>(e.plan);  // another thread's
    entries.push_back({key, built, bytes});
    return built;
  }
};

}  // namespace diffuser
