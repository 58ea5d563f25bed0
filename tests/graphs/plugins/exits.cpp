// Test plugin that emits one edge and then calls exit(0) instead of returning.
#include <cstdlib>

#include <diffuser/graphs/plugin.h>

DIFFUSER_PLUGIN_EXPORT uint32_t diffuser_plugin_abi_version(void) {
  return DIFFUSER_PLUGIN_ABI_VERSION;
}

DIFFUSER_PLUGIN_EXPORT int diffuser_plugin_build(int64_t, uint64_t, const char*, diffuser_plugin_emit_fn emit,
                                                 void* sink, char*, size_t) {
  const int32_t edge[2] = {0, 0};
  emit(sink, edge, 1);
  std::exit(0);
}
