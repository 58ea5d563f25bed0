#include <algorithm>
#include <cmath>
#include <numbers>

#include <diffuser/engine/error.hpp>
#include <diffuser/training/schedule.hpp>

namespace diffuser::training {

Decay parse_decay(std::string_view text) {
  if (text == "linear") return Decay::linear;
  if (text == "cosine") return Decay::cosine;
  if (text == "constant" || text == "none") return Decay::constant;
  throw UsageError(cat("--decay must be linear, cosine or constant, got '", text, "'"));
}

const char* decay_name(Decay d) {
  switch (d) {
    case Decay::linear:
      return "linear";
    case Decay::cosine:
      return "cosine";
    case Decay::constant:
      return "constant";
  }
  return "?";
}

double LrSchedule::at(std::int64_t step) const {
  if (warmup > 0 && step <= warmup)
    return base * static_cast<double>(std::max<std::int64_t>(step, 0)) / static_cast<double>(warmup);
  if (decay == Decay::constant) return base;
  const std::int64_t span = total - warmup;
  const double p =
      span <= 0 ? 1.0 : std::clamp(static_cast<double>(step - warmup) / static_cast<double>(span), 0.0, 1.0);
  if (decay == Decay::linear) return base * (1.0 - (1.0 - min_ratio) * p);
  return base * (min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + std::cos(std::numbers::pi * p)));
}

}  // namespace diffuser::training
