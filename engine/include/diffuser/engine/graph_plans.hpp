// Per-graph derived data that the primitives build on first use and then reuse: the CPU's
// dense-panel plans, the CUDA backend's hub and panel plans. Every Csr owns one (a Csr never
// changes after it is built, so its plans never go stale); a caller that runs primitives on a bare
// CsrView over memory it owns (a PyTorch tensor) keeps a GraphPlans next to that memory and sets
// CsrView::plans, or each call plans afresh (correct, slower). Plans are freed with their owner.
// Thread-safe: concurrent calls on one graph share its plans (two first calls may both build one;
// the first stored wins).
#pragma once

#include <cstdint>
#include <memory>

namespace diffuser {

class GraphPlans {
 public:
  GraphPlans();
  ~GraphPlans();
  GraphPlans(const GraphPlans&) = delete;
  GraphPlans& operator=(const GraphPlans&) = delete;

  std::int64_t entries() const;  // plans held now
  std::int64_t bytes() const;    // host and device memory they hold
  void clear();                  // drops them (they are rebuilt on the next use)

  // The engine's storage of the plans (engine/src/graph_plans_store.hpp).
  struct Store;
  Store& store() const { return *store_; }

 private:
  std::unique_ptr<Store> store_;
};

}  // namespace diffuser
