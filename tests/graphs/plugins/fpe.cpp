// Test plugin that raises SIGFPE in its build function, as an integer division by zero does.
#include <csignal>

#include <diffuser/graphs/plugin.h>

DIFFUSER_PLUGIN_EXPORT uint32_t diffuser_plugin_abi_version(void) {
  return DIFFUSER_PLUGIN_ABI_VERSION;
}

DIFFUSER_PLUGIN_EXPORT int diffuser_plugin_build(int64_t, uint64_t, const char*, diffuser_plugin_emit_fn,
                                                 void*, char*, size_t) {
  std::raise(SIGFPE);
  return 0;
}
