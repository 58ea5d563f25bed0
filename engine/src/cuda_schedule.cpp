#include <diffuser/engine/error.hpp>

#include "cuda_schedule.hpp"

namespace diffuser {

namespace {

const char* hop_name(HopKernel h) {
  switch (h) {
    case HopKernel::automatic:
      return "auto";
    case HopKernel::w32:
      return "w32";
    case HopKernel::w16:
      return "w16";
    case HopKernel::w8:
      return "w8";
    case HopKernel::h2:
      return "h2";
    case HopKernel::row:
      return "row";
  }
  return "?";
}

}  // namespace

CudaSchedule parse_cuda_schedule(std::string_view spec, CudaSchedule s) {
  std::size_t pos = 0;
  while (pos <= spec.size()) {
    std::size_t comma = spec.find(',', pos);
    if (comma == std::string_view::npos) comma = spec.size();
    const std::string_view item = spec.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) continue;
    if (item == "default") {
      s = CudaSchedule{};
      continue;
    }
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) throw UsageError(cat("cuda schedule: '", item, "' is not key=value"));
    const std::string_view key = item.substr(0, eq), val = item.substr(eq + 1);
    auto number = [&]() -> std::int64_t {
      try {
        std::size_t used = 0;
        const long long v = std::stoll(std::string(val), &used);
        if (used != val.size()) throw 0;
        return v;
      } catch (...) {
        throw UsageError(cat("cuda schedule: '", item, "' needs an integer"));
      }
    };
    if (key == "hop") {
      bool found = false;
      for (HopKernel h : {HopKernel::automatic, HopKernel::w32, HopKernel::w16, HopKernel::w8, HopKernel::h2,
                          HopKernel::row})
        if (val == hop_name(h)) {
          s.hop = h;
          found = true;
        }
      if (!found)
        throw UsageError(cat("cuda schedule: hop=", val, " (expected auto, w32, w16, w8, h2 or row)"));
    } else if (key == "score") {
      if (val == "s8")
        s.score_lanes = 8;
      else if (val == "s16")
        s.score_lanes = 16;
      else if (val == "s32")
        s.score_lanes = 32;
      else
        throw UsageError(cat("cuda schedule: score=", val, " (expected s8, s16 or s32)"));
    } else if (key == "step" || key == "sstep") {
      const auto v = number();
      if (v != 0 && v != 8 && v != 16 && v != 32)
        throw UsageError(cat("cuda schedule: ", key, " must be 0, 8, 16 or 32"));
      (key == "step" ? s.hop_step : s.score_step) = static_cast<int>(v);
    } else if (key == "layout") {
      if (val == "hm")
        s.head_major = true;
      else if (val == "em")
        s.head_major = false;
      else
        throw UsageError(cat("cuda schedule: layout=", val, " (expected hm or em)"));
    } else if (key == "hub") {
      const auto v = number();
      if (v < -1) throw UsageError("cuda schedule: hub must be -1, 0 or a degree");
      s.hub = v;
    } else if (key == "panel") {
      const auto v = number();
      if (v != 0 && v != 1) throw UsageError("cuda schedule: panel must be 0 or 1");
      s.panels = v == 1;
    } else {
      throw UsageError(
          cat("cuda schedule: unknown key '", key, "' (hop, step, score, sstep, layout, hub, panel)"));
    }
  }
  return s;
}

std::string describe(const CudaSchedule& s) {
  return cat("hop=", hop_name(s.hop), ",step=", s.hop_step, ",score=s", s.score_lanes,
             ",sstep=", s.score_step, ",layout=", s.head_major ? "hm" : "em", ",hub=", s.hub,
             ",panel=", s.panels ? 1 : 0);
}

}  // namespace diffuser
