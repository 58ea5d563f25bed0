// Test plugin whose static constructor crashes while the library loads (before any ABI call).
#include <csignal>

#include <diffuser/graphs/plugin.h>

namespace {
struct CrashOnLoad {
  CrashOnLoad() { std::raise(SIGSEGV); }
} crash_on_load;
}  // namespace

DIFFUSER_PLUGIN_EXPORT uint32_t diffuser_plugin_abi_version(void) {
  return DIFFUSER_PLUGIN_ABI_VERSION;
}

DIFFUSER_PLUGIN_EXPORT int diffuser_plugin_build(int64_t, uint64_t, const char*, diffuser_plugin_emit_fn,
                                                 void*, char*, size_t) {
  return 0;
}
