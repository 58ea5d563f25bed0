#include "json_out.hpp"

#include <cmath>

#include <diffuser/engine/context.hpp>

#include "build_info.hpp"

namespace diffuser::cli {

namespace {

// Replaces non-finite numbers by null, collecting where they were.
void sanitize(Json& j, const std::string& where, std::vector<std::string>& notes) {
  if (j.is_number_float()) {
    const double v = j.get<double>();
    if (!std::isfinite(v)) {
      notes.push_back(where + ": " + (std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf")) +
                      " written as null");
      j = nullptr;
    }
  } else if (j.is_object()) {
    for (auto& [key, value] : j.items()) sanitize(value, where.empty() ? key : where + "." + key, notes);
  } else if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) sanitize(j[i], where + "[" + std::to_string(i) + "]", notes);
  }
}

}  // namespace

std::string dump_json(Json j, bool pretty) {
  std::vector<std::string> notes;
  sanitize(j, "", notes);
  if (!notes.empty() && j.is_object()) {
    Json& n = j["notes"];
    if (!n.is_array()) n = Json::array();
    for (const auto& s : notes) n.push_back(s);
  }
  return j.dump(pretty ? 2 : -1, ' ', false, Json::error_handler_t::replace);
}

Json build_info(Device device) {
  Json b;
  b["commit"] = DIFFUSER_BUILD_COMMIT;
  b["build_type"] = DIFFUSER_BUILD_TYPE;
  b["compiler"] = DIFFUSER_BUILD_COMPILER;
  b["cxx_flags"] = DIFFUSER_BUILD_CXX_FLAGS;
  b["cpu_levels_built"] = DIFFUSER_BUILD_CPU_LEVELS;
  b["cpu_isa"] = cpu_isa_name(current_context().cpu_isa());
  b["cpu_threads"] = current_context().cpu_threads();
  b["cuda_built"] = DIFFUSER_BUILD_CUDA_ENABLED;
  if (device == Device::cuda) {
    b["cuda_device"] = describe_device(Device::cuda);
    b["cuda_compiler"] = DIFFUSER_BUILD_CUDA_COMPILER;
    b["cuda_flags"] = DIFFUSER_BUILD_CUDA_FLAGS;
  } else {
    b["cuda_device"] = nullptr;
  }
  return b;
}

}  // namespace diffuser::cli
