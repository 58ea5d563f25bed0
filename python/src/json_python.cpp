// The analysis documents (tools/diffuser/analysis_json.hpp) as Python objects.
#include "json_python.hpp"

#include <cmath>
#include <cstdint>
#include <string>

namespace diffuser::python {

namespace py = pybind11;

py::object to_python(const cli::Json& j) {
  switch (j.type()) {
    case cli::Json::value_t::object: {
      py::dict d;
      for (const auto& [key, value] : j.items()) d[py::str(key)] = to_python(value);
      return d;
    }
    case cli::Json::value_t::array: {
      py::list l;
      for (const auto& value : j) l.append(to_python(value));
      return l;
    }
    case cli::Json::value_t::string:
      return py::str(j.get<std::string>());
    case cli::Json::value_t::boolean:
      return py::bool_(j.get<bool>());
    case cli::Json::value_t::number_integer:
      return py::int_(j.get<std::int64_t>());
    case cli::Json::value_t::number_unsigned:
      return py::int_(j.get<std::uint64_t>());
    case cli::Json::value_t::number_float: {
      const double x = j.get<double>();
      return std::isfinite(x) ? py::object(py::float_(x)) : py::none();
    }
    default:
      return py::none();
  }
}

}  // namespace diffuser::python
