// The token graph as Python sees it: an immutable Csr, where it came from, and the reverse graph
// the backward needs (built at the first backward, then kept with the graph); for CUDA tensors,
// its copy on each device used (carried at the first call there, then kept with the graph, so the
// engine's plans for it stay warm).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <pybind11/pybind11.h>

#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/ops_backward.hpp>

namespace diffuser::python {

class Graph {
 public:
  Graph(Csr csr, std::string source, double build_ms)
      : csr_(std::move(csr)), source_(std::move(source)), build_ms_(build_ms) {}

  const Csr& csr() const { return csr_; }
  const std::string& source() const { return source_; }
  double build_ms() const { return build_ms_; }
  // Thread-safe; built on first use.
  const ReverseGraph& reverse() const;
  // The graph and its reverse on CUDA device `device`, carried there on `stream` (a cudaStream_t)
  // at the first request, from the engine's own pool. Thread-safe; call without the GIL.
  const Csr& csr_on(int device, std::uintptr_t stream) const;
  const ReverseGraph& reverse_on(int device, std::uintptr_t stream) const;

 private:
  struct OnDevice {
    std::once_flag csr_once, reverse_once;
    Csr csr;
    std::unique_ptr<ReverseGraph> reverse;
  };
  OnDevice& on_device(int device) const;

  Csr csr_;
  std::string source_;
  double build_ms_ = 0;
  mutable std::once_flag reverse_once_;
  mutable std::unique_ptr<ReverseGraph> reverse_;
  mutable std::mutex devices_mutex_;
  mutable std::map<int, std::unique_ptr<OnDevice>> devices_;
};

void bind_graph(pybind11::module_& m);

}  // namespace diffuser::python
