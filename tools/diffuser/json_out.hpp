// Every JSON the CLI writes goes through nlohmann-json: keys in the documented order, strings
// escaped by the library, and numbers that are not finite written as null with a note saying
// where (JSON has no NaN or Infinity).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include <diffuser/engine/device.hpp>

namespace diffuser::cli {

using Json = nlohmann::ordered_json;

// null for an empty optional, the value otherwise.
template <class T>
Json json_or_null(const std::optional<T>& v) {
  return v ? Json(*v) : Json(nullptr);
}

// The text of `j`: one line (pretty = false) or indented by 2. When some number is NaN or
// infinite it is written as null and an object `j` gains "notes": ["rows[1].naive_ms: NaN
// written as null", ...].
std::string dump_json(Json j, bool pretty = false);

// What a benchmark file needs to be reproduced and compared: the commit the build was configured
// from, build type, compiler and version, compile flags, the CPU level in use and the number of
// CPU threads, and the CUDA device (null unless `device` is cuda) with the CUDA build flags.
Json build_info(Device device);

}  // namespace diffuser::cli
