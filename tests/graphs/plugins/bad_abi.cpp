// Test plugin built for a future ABI: diffuser must refuse it without calling its build function.
#include <diffuser/graphs/plugin.h>

DIFFUSER_PLUGIN_EXPORT uint32_t diffuser_plugin_abi_version(void) { return DIFFUSER_PLUGIN_ABI_VERSION + 1; }

DIFFUSER_PLUGIN_EXPORT int diffuser_plugin_build(int64_t, uint64_t, const char*, diffuser_plugin_emit_fn, void*, char*,
                                                 size_t) {
  __builtin_trap();  // must never run
}
