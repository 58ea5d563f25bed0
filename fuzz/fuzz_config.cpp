// Model configs (JSON): parsing, validation, and the round trip through to_json.
#include <diffuser/attention/config.hpp>

#include "fuzz_common.hpp"

DIFFUSER_FUZZ_INIT

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace diffuser;
  fuzz::refusals_ok([&] {
    const auto c = attention::ModelConfig::from_json(std::string(fuzz::bytes(data, size)), "fuzz.json");
    const auto again = attention::ModelConfig::from_json(c.to_json(), "round trip");
    if (again.to_json() != c.to_json()) __builtin_trap();
    (void)c.model_parameters();
  });
  return 0;
}
