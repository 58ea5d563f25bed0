// diffuser._core: the engine for Python. Every diffuser::Error (and every file-system error) reaches
// Python as diffuser.Error, a ValueError, with the CLI's one-line message; memory exhaustion as
// MemoryError. The base execution context is built here, once, from the environment.
#include <filesystem>
#include <new>

#include <pybind11/pybind11.h>

#include <diffuser/engine/context.hpp>
#include <diffuser/engine/cpu_isa.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/engine/error.hpp>

#include "graph.hpp"
#include "runtime.hpp"

namespace diffuser::python {
void bind_attend(pybind11::module_& m);
void bind_analysis(pybind11::module_& m);
void bind_viz(pybind11::module_& m);
}  // namespace diffuser::python

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  using namespace diffuser;
  m.doc() = "The diffuser engine (C++); use the package diffuser, not this module.";
  // The exception type lives as long as the module; the translator only reads it.
  static py::exception<Error> error(m, "Error", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      error(one_line(e.what()).c_str());
    } catch (const std::filesystem::filesystem_error& e) {
      error(one_line(e.what()).c_str());
    }
  });

  python::init_base_context();
  m.attr("__version__") = DIFFUSER_VERSION;
  m.def("build_info", [] {
    py::dict d;
    d["version"] = DIFFUSER_VERSION;
    std::string why;
    d["cuda_available"] = cuda_available(&why);
    d["cuda"] = why.empty() ? "usable" : why;
    d["cpu_isa"] = cpu_isa_name(python::base_context().cpu_isa());
    d["threads"] = python::base_context().cpu_threads();
    return d;
  });
  python::bind_graph(m);
  python::bind_attend(m);
  python::bind_analysis(m);
  python::bind_viz(m);
}
