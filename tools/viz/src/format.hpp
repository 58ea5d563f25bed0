// Number formatting shared by the figures and the report: thousands grouping and percentages.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace diffuser::viz {

// 1234567 -> "1,234,567".
inline std::string group_digits(std::int64_t v) {
  const std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return v < 0 ? "-" + out : out;
}

// 0.1234 -> "12.3%" (decimals after the point).
inline std::string percent(double fraction, int decimals = 1) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*f%%", decimals, 100.0 * fraction);
  return buf;
}

}  // namespace diffuser::viz
