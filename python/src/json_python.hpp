// A JSON document of the CLI as Python objects (dict, list, str, bool, int, float); numbers that
// are not finite become None, as the CLI's --json output writes them as null.
#pragma once

#include <pybind11/pybind11.h>

#include "analysis_json.hpp"

namespace diffuser::python {

pybind11::object to_python(const cli::Json& j);

}  // namespace diffuser::python
