// The token graph as Python sees it: an immutable Csr, where it came from, and the reverse graph
// the backward needs (built at the first backward, then kept with the graph).
#pragma once

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

 private:
  Csr csr_;
  std::string source_;
  double build_ms_ = 0;
  mutable std::once_flag reverse_once_;
  mutable std::unique_ptr<ReverseGraph> reverse_;
};

void bind_graph(pybind11::module_& m);

}  // namespace diffuser::python
