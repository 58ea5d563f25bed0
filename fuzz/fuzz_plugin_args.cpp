// Plugin arguments: the "plugin:LIB[:ARGS]" term, and the example plugin's own ARGS parser
// (causal_window.c, linked in) through the C ABI with a checking emit.
#include <string>

#include <diffuser/graphs/plugin.h>
#include <diffuser/graphs/pattern.hpp>

#include "fuzz_common.hpp"

extern "C" int diffuser_plugin_build(int64_t n, uint64_t seed, const char* args, diffuser_plugin_emit_fn emit,
                                     void* sink, char* error, size_t error_size);

DIFFUSER_FUZZ_INIT

namespace {

int check_emit(void* sink, const int32_t* pairs, int64_t count) {
  const auto n = *static_cast<const std::int64_t*>(sink);
  for (int64_t e = 0; e < 2 * count; ++e)
    if (pairs[e] < 0 || pairs[e] >= n) __builtin_trap();
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace diffuser;
  if (size < 1) return 0;
  std::int64_t n = 1 + data[0] % 64;
  const std::string args(fuzz::bytes(data + 1, size - 1));
  fuzz::refusals_ok([&] {
    const auto terms = graphs::parse_pattern("plugin:./lib.so:" + args);
    // '+' separates terms, so ARGS end at the first one (documented in pattern.hpp).
    if (terms.empty() || terms[0].path != "./lib.so") __builtin_trap();
    if (args.find('+') == std::string::npos && terms.size() != 1) __builtin_trap();
  });
  const std::string c_args(args.c_str());  // what a plugin sees: up to the first NUL
  char error[64];
  error[0] = '\0';
  const int rc = diffuser_plugin_build(n, 0, c_args.c_str(), &check_emit, &n, error, sizeof error);
  if (rc != 0 && std::char_traits<char>::length(error) >= sizeof error) __builtin_trap();
  return 0;
}
