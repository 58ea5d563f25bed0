// Private to attention/: JSON from untrusted files (configs, safetensors headers), parsed strictly
// and reported in one line: a repeated key, nesting deeper than kMaxJsonDepth or a number that
// overflows a double (1e309) is refused, and every error names the source, the line and column,
// the key being read and a short escaped excerpt of the offending text.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace diffuser::attention::detail {

inline constexpr int kMaxJsonDepth = 128;

// `what` names the text in messages ("config", "header"). Throws Error.
nlohmann::json parse_json_strict(std::string_view text, const std::string& source, const char* what);

// A JSON value for a message: its compact dump, cut and escaped as excerpt() does.
std::string json_excerpt(const nlohmann::json& v);

}  // namespace diffuser::attention::detail
