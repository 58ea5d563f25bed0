#include "graph_plans_store.hpp"

namespace diffuser {

GraphPlans::GraphPlans() : store_(std::make_unique<Store>()) {}
GraphPlans::~GraphPlans() = default;

std::int64_t GraphPlans::entries() const {
  std::lock_guard<std::mutex> lock(store_->mu);
  return static_cast<std::int64_t>(store_->entries.size());
}

std::int64_t GraphPlans::bytes() const {
  std::lock_guard<std::mutex> lock(store_->mu);
  std::int64_t b = 0;
  for (const auto& e : store_->entries) b += e.bytes;
  return b;
}

void GraphPlans::clear() {
  std::vector<Store::Entry> dropped;  // released outside the lock
  std::lock_guard<std::mutex> lock(store_->mu);
  dropped.swap(store_->entries);
}

}  // namespace diffuser
