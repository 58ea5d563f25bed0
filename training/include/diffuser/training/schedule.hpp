// The learning rate of each optimizer step: linear warm-up from 0, then linear or cosine decay (or
// none) down to min_ratio x base at the last step. A pure function of the step, so a resumed run
// needs nothing but its step count.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace diffuser::training {

enum class Decay { linear, cosine, constant };
Decay parse_decay(std::string_view text);  // "linear", "cosine", "constant" (UsageError otherwise)
const char* decay_name(Decay d);

struct LrSchedule {
  double base = 1e-3;
  std::int64_t warmup = 0;  // steps 1..warmup ramp linearly: base * step / warmup
  std::int64_t total = 1;   // the last step; decay reaches min_ratio * base there
  Decay decay = Decay::linear;
  double min_ratio = 0.0;

  // The rate of optimizer step `step` (1-based). After warm-up, with p = (step - warmup) /
  // (total - warmup) in [0, 1]: linear base (1 - (1 - min) p), cosine base (min + (1 - min) (1 +
  // cos(pi p)) / 2), constant base. Steps past `total` keep the final rate.
  double at(std::int64_t step) const;
};

}  // namespace diffuser::training
