// Element types: names, and the float32 <-> bf16 conversions of host spans.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <diffuser/engine/bf16.hpp>
#include <diffuser/engine/error.hpp>

namespace diffuser {

const char* dtype_name(DType t) {
  return t == DType::bf16 ? "bf16" : "fp32";
}

DType parse_dtype(std::string_view name) {
  if (name == "fp32" || name == "float32" || name == "f32") return DType::fp32;
  if (name == "bf16" || name == "bfloat16") return DType::bf16;
  throw UsageError(cat("unknown dtype '", name, "' (expected fp32 or bf16)"));
}

void convert(std::span<const float> in, std::span<bf16> out) {
  DIFFUSER_CHECK(in.size() == out.size(), "convert: ", in.size(), " values into ", out.size());
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, in.size(), 1 << 16), [&](const auto& r) {
    for (auto i = r.begin(); i < r.end(); ++i) out[i] = to_bf16(in[i]);
  });
}

void convert(std::span<const bf16> in, std::span<float> out) {
  DIFFUSER_CHECK(in.size() == out.size(), "convert: ", in.size(), " values into ", out.size());
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, in.size(), 1 << 16), [&](const auto& r) {
    for (auto i = r.begin(); i < r.end(); ++i) out[i] = to_float(in[i]);
  });
}

}  // namespace diffuser
