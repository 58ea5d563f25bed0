// Test plugin that exports the version function but no build function.
#include <diffuser/graphs/plugin.h>

DIFFUSER_PLUGIN_EXPORT uint32_t diffuser_plugin_abi_version(void) { return DIFFUSER_PLUGIN_ABI_VERSION; }

// Present in the source but not exported (hidden visibility), so dlsym cannot find it.
extern "C" int diffuser_plugin_build(int64_t, uint64_t, const char*, diffuser_plugin_emit_fn, void*, char*, size_t) {
  return 0;
}
