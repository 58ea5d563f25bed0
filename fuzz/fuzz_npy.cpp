// .npy files: the header parser and the conversion of the data section.
#include <diffuser/engine/npy.hpp>

#include "fuzz_common.hpp"

DIFFUSER_FUZZ_INIT

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace diffuser;
  const auto in = fuzz::bytes(data, size);
  fuzz::refusals_ok([&] {
    npy::Header h;
    const auto f = npy::decode_f32(in, "fuzz.npy", &h);
    if (static_cast<std::int64_t>(f.size()) != h.numel()) __builtin_trap();
  });
  fuzz::refusals_ok([&] { npy::decode_i64(in, "fuzz.npy"); });
  return 0;
}
