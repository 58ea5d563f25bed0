// Test plugin that aborts in its build function (SIGABRT), as a failed assert() would.
#include <cstdlib>

#include <diffuser/graphs/plugin.h>

DIFFUSER_PLUGIN_EXPORT uint32_t diffuser_plugin_abi_version(void) {
  return DIFFUSER_PLUGIN_ABI_VERSION;
}

DIFFUSER_PLUGIN_EXPORT int diffuser_plugin_build(int64_t, uint64_t, const char*, diffuser_plugin_emit_fn,
                                                 void*, char*, size_t) {
  std::abort();
}
