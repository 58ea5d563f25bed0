// safetensors files: the header (JSON, offsets, shapes) and the conversion of every tensor.
#include <diffuser/attention/safetensors.hpp>

#include "fuzz_common.hpp"

DIFFUSER_FUZZ_INIT

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace diffuser;
  const auto in = fuzz::bytes(data, size);
  fuzz::refusals_ok([&] {
    const auto r = safetensors::Reader::from_bytes(in, "fuzz.safetensors");
    std::uint64_t header = 0;
    for (int i = 7; i >= 0; --i) header = (header << 8) | data[i];
    const std::string_view body = in.substr(8 + header);
    for (const auto& t : r.tensors()) {
      if (t.end > body.size() || t.begin > t.end) __builtin_trap();  // the reader promised this
      if (t.dtype != safetensors::DType::F32 && t.dtype != safetensors::DType::F64 &&
          t.dtype != safetensors::DType::F16 && t.dtype != safetensors::DType::BF16)
        continue;
      fuzz::refusals_ok([&] { r.decode_f32(t, body.substr(t.begin, t.end - t.begin)); });
    }
  });
  return 0;
}
