// Test plugin that reports a failure with a message naming what it received.
#include <cstdio>

#include <diffuser/graphs/plugin.h>

DIFFUSER_PLUGIN_EXPORT uint32_t diffuser_plugin_abi_version(void) { return DIFFUSER_PLUGIN_ABI_VERSION; }

DIFFUSER_PLUGIN_EXPORT int diffuser_plugin_build(int64_t n, uint64_t seed, const char* args, diffuser_plugin_emit_fn,
                                                 void*, char* error, size_t error_size) {
  std::snprintf(error, error_size, "cannot build: n=%lld seed=%llu args='%s'", static_cast<long long>(n),
                static_cast<unsigned long long>(seed), args);
  return 3;
}
