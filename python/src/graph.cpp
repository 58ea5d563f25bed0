// diffuser._core.Graph: building token graphs (patterns, edge arrays, files, CSR arrays, batches)
// and reading them back (edges, CSR arrays, statistics). diffuser.Graph wraps it in Python.
#include "graph.hpp"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <vector>

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <diffuser/attention/batch.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>
#include <diffuser/graphs/formats.hpp>
#include <diffuser/graphs/pattern.hpp>
#include <diffuser/graphs/stats.hpp>

#include "arrays.hpp"
#include "json_python.hpp"
#include "runtime.hpp"

namespace diffuser::python {

namespace py = pybind11;
using GraphPtr = std::shared_ptr<Graph>;

const ReverseGraph& Graph::reverse() const {
  std::call_once(reverse_once_, [&] { reverse_ = std::make_unique<ReverseGraph>(csr_); });
  return *reverse_;
}

Graph::OnDevice& Graph::on_device(int device) const {
  const std::lock_guard lock(devices_mutex_);
  auto& slot = devices_[device];
  if (!slot) slot = std::make_unique<OnDevice>();
  return *slot;
}

namespace {

// Runs a copy to `device` on `stream`, from the engine's pool (no caller allocator: the copy
// outlives the call). Called inside an engine call, without the GIL.
template <class F>
void on_stream(int device, std::uintptr_t stream, F&& f) {
  const Context ctx(engine_options(std::nullopt, CudaCall{device, stream, {}, {}}));
  ctx.run(std::forward<F>(f));
}

}  // namespace

const Csr& Graph::csr_on(int device, std::uintptr_t stream) const {
  OnDevice& d = on_device(device);
  std::call_once(d.csr_once, [&] { on_stream(device, stream, [&] { d.csr = csr_.to(Device::cuda); }); });
  return d.csr;
}

const ReverseGraph& Graph::reverse_on(int device, std::uintptr_t stream) const {
  OnDevice& d = on_device(device);
  std::call_once(d.reverse_once, [&] {
    on_stream(device, stream, [&] { d.reverse = std::make_unique<ReverseGraph>(csr_on(device, stream)); });
  });
  return *d.reverse;
}

namespace {

// n in range, and its row offsets (8 bytes a token, the least a graph of n tokens holds) in memory.
void check_n(std::int64_t n, std::int64_t lowest) {
  if (n < lowest || n > kMaxNodes) throw Error(cat("n must be in [", lowest, ", ", kMaxNodes, "], got ", n));
  require_memory(8 * (n + 1), cat("a graph of ", n, " tokens (its row offsets)"));
}

template <class F>
GraphPtr build(std::string source, F&& f) {
  Csr csr;
  double ms = 0;
  run_engine(std::nullopt, [&] {
    Stopwatch sw;
    csr = f();
    ms = sw.ms();
  });
  return std::make_shared<Graph>(std::move(csr), std::move(source), ms);
}

GraphPtr from_pattern(const std::string& spec, std::int64_t n, std::int64_t seed) {
  check_n(n, 1);
  if (seed < 0) throw Error(cat("seed must be >= 0, got ", seed));
  return build(cat("pattern '", spec, "' (N=", n, ", seed ", seed, ")"),
               [&] { return graphs::build_pattern(spec, n, static_cast<std::uint64_t>(seed)); });
}

// Ids are checked here (the engine takes int32): the first edge with an endpoint outside [0, n).
GraphPtr from_edges(py::handle src_obj, py::handle dst_obj, std::optional<std::int64_t> n_opt,
                    std::optional<std::string> source) {
  const std::vector<std::int64_t> src = index_values(array_ref(src_obj, "src"));
  const std::vector<std::int64_t> dst = index_values(array_ref(dst_obj, "dst"));
  if (src.size() != dst.size())
    throw Error(cat("src and dst must have the same length, got ", src.size(), " and ", dst.size()));
  std::int64_t n = 0;
  if (n_opt) {
    check_n(*n_opt, 0);
    n = *n_opt;
  }
  for (std::size_t e = 0; e < src.size(); ++e) {
    const std::int64_t lim = n_opt ? n : kMaxNodes;
    for (const auto& [name, v] : {std::pair{"src", src[e]}, std::pair{"dst", dst[e]}})
      if (v < 0 || v >= lim)
        throw Error(cat("edge ", e, ": ", name, " = ", v, " is out of range [0, ", lim, ")",
                        n_opt ? "" : " (node ids are int32)"));
    if (!n_opt) n = std::max(n, std::max(src[e], dst[e]) + 1);
  }
  return build(source.value_or(cat("edges (N=", n, ")")), [&] {
    EdgeList edges;
    edges.n = n;
    edges.src.assign(src.begin(), src.end());
    edges.dst.assign(dst.begin(), dst.end());
    return Csr::from_edges(edges);
  });
}

GraphPtr from_csr(std::int64_t n, py::handle row_ptr_obj, py::handle col_obj, const std::string& source) {
  check_n(n, 0);
  const std::vector<std::int64_t> row_ptr = index_values(array_ref(row_ptr_obj, "row_ptr"));
  const std::vector<std::int64_t> col64 = index_values(array_ref(col_obj, "col"));
  std::vector<std::int32_t> col(col64.size());
  for (std::size_t e = 0; e < col.size(); ++e) {
    if (col64[e] < 0 || col64[e] >= n)
      throw Error(cat("col[", e, "] = ", col64[e], " is out of range [0, ", n, ")"));
    col[e] = static_cast<std::int32_t>(col64[e]);
  }
  if (static_cast<std::int64_t>(row_ptr.size()) != n + 1)
    throw Error(cat("row_ptr must have n + 1 = ", n + 1, " entries, got ", row_ptr.size()));
  return build(source, [&] { return Csr::from_arrays(n, row_ptr, std::move(col)); });
}

GraphPtr load(const std::filesystem::path& path, std::optional<std::int64_t> n) {
  if (n) check_n(*n, 1);
  return build(cat("file ", path.string()), [&] { return graphs::read_graph(path, n); });
}

GraphPtr block_diagonal(const std::vector<GraphPtr>& parts) {
  if (parts.empty()) throw Error("block_diagonal needs at least one graph");
  std::vector<const Csr*> csrs;
  std::int64_t total = 0;
  for (const auto& p : parts) {
    if (!p) throw Error("block_diagonal: None is not a graph");
    csrs.push_back(&p->csr());
    total += p->csr().num_nodes();
  }
  if (total > kMaxNodes) throw Error(cat("block_diagonal: ", total, " tokens in all; at most ", kMaxNodes));
  return build(cat("block-diagonal batch of ", parts.size(), " graphs (N=", total, ")"),
               [&] { return attention::block_diagonal(csrs); });
}

// Fills caller-allocated int32 / int64 arrays (the Python layer allocates them with NumPy).
template <class T>
T* out_array(py::handle obj, const char* name, std::int64_t size, ArrayRef& keep) {
  keep = array_ref(obj, name, true);
  require_host(keep);
  const bool int_kind = keep.kind == Kind::signed_int;
  if (!int_kind || keep.itemsize != static_cast<std::int64_t>(sizeof(T)) || keep.ndim() != 1 ||
      keep.shape[0] != size || (size > 1 && keep.byte_strides[0] != static_cast<std::int64_t>(sizeof(T))))
    throw Error(cat(name, " must be a contiguous int", 8 * sizeof(T), " array of ", size, " values"));
  return static_cast<T*>(keep.data);
}

void edges_into(const Graph& g, py::handle src, py::handle dst) {
  const Csr& c = g.csr();
  ArrayRef ks, kd;
  std::int32_t* s = out_array<std::int32_t>(src, "src", c.num_edges(), ks);
  std::int32_t* d = out_array<std::int32_t>(dst, "dst", c.num_edges(), kd);
  std::copy(c.col().begin(), c.col().end(), s);
  for (std::int64_t i = 0; i < c.num_nodes(); ++i)
    std::fill(d + c.row_ptr()[i], d + c.row_ptr()[i + 1], static_cast<std::int32_t>(i));
}

void csr_into(const Graph& g, py::handle row_ptr, py::handle col) {
  const Csr& c = g.csr();
  ArrayRef kr, kc;
  std::int64_t* r = out_array<std::int64_t>(row_ptr, "row_ptr", c.num_nodes() + 1, kr);
  std::int32_t* k = out_array<std::int32_t>(col, "col", c.num_edges(), kc);
  if (c.row_ptr().size() > 0)
    std::copy(c.row_ptr().begin(), c.row_ptr().end(), r);
  else
    r[0] = 0;
  std::copy(c.col().begin(), c.col().end(), k);
}

py::dict stats(const Graph& g) {
  graphs::GraphStats s;
  run_engine(std::nullopt, [&] { s = graphs::graph_stats(g.csr()); });
  return py::dict(to_python(cli::graph_stats_json(g.source(), s, g.build_ms())));
}

}  // namespace

void bind_graph(py::module_& m) {
  py::class_<Graph, GraphPtr>(m, "Graph", "The engine's token graph (immutable); use diffuser.Graph.")
      .def_static("from_pattern", &from_pattern, py::arg("spec"), py::arg("n"), py::arg("seed") = 0)
      .def_static("from_edges", &from_edges, py::arg("src"), py::arg("dst"), py::arg("n") = py::none(),
                  py::arg("source") = py::none())
      .def_static("from_csr", &from_csr, py::arg("n"), py::arg("row_ptr"), py::arg("col"),
                  py::arg("source") = "CSR arrays")
      .def_static("load", &load, py::arg("path"), py::arg("n") = py::none())
      .def_static("block_diagonal", &block_diagonal, py::arg("graphs"))
      .def_property_readonly("n", [](const Graph& g) { return g.csr().num_nodes(); })
      .def_property_readonly("num_edges", [](const Graph& g) { return g.csr().num_edges(); })
      .def_property_readonly("source", &Graph::source)
      .def("edges_into", &edges_into, py::arg("src"), py::arg("dst"))
      .def("csr_into", &csr_into, py::arg("row_ptr"), py::arg("col"))
      .def("save",
           [](const Graph& g, const std::filesystem::path& path) {
             run_engine(std::nullopt, [&] { graphs::write_graph(g.csr(), path); });
           })
      .def("stats", &stats)
      .def("equals", [](const Graph& a, const Graph& b) { return a.csr() == b.csr(); });
}

}  // namespace diffuser::python
