// Shared by the fuzz targets: a small memory budget (an input may ask for a lot, the target must
// refuse it cleanly rather than allocate it), and the one way a target may fail: an exception
// that is not diffuser::Error escaping, or a sanitizer report. Every diffuser::Error is a clean
// refusal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>

namespace diffuser::fuzz {

inline void init() {
  limit_memory_budget(std::int64_t{512} << 20);
}

inline std::string_view bytes(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs f; diffuser::Error (a refusal with a message) is the expected way for bad input to end.
template <class F>
void refusals_ok(F&& f) {
  try {
    f();
  } catch (const diffuser::Error& e) {
    // Messages are one line of printable text once the CLI escapes them; they must exist.
    if (e.what()[0] == '\0') __builtin_trap();
  }
}

}  // namespace diffuser::fuzz

#define DIFFUSER_FUZZ_INIT                             \
  extern "C" int LLVMFuzzerInitialize(int*, char***) { \
    diffuser::fuzz::init();                            \
    return 0;                                          \
  }
