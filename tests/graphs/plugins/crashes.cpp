// Test plugin that dereferences a null pointer in its build function (SIGSEGV).
#include <diffuser/graphs/plugin.h>

DIFFUSER_PLUGIN_EXPORT uint32_t diffuser_plugin_abi_version(void) {
  return DIFFUSER_PLUGIN_ABI_VERSION;
}

DIFFUSER_PLUGIN_EXPORT int diffuser_plugin_build(int64_t n, uint64_t, const char*, diffuser_plugin_emit_fn,
                                                 void*, char*, size_t) {
  volatile int* p = nullptr;
  if (n > 0) *p = 1;
  return 0;
}
