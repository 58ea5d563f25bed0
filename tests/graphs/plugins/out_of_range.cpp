// Test plugin that emits one valid batch, then a batch whose second edge ends at n (out of range),
// and ignores emit's request to stop: diffuser must report the first bad edge.
#include <diffuser/graphs/plugin.h>

DIFFUSER_PLUGIN_EXPORT uint32_t diffuser_plugin_abi_version(void) { return DIFFUSER_PLUGIN_ABI_VERSION; }

DIFFUSER_PLUGIN_EXPORT int diffuser_plugin_build(int64_t n, uint64_t, const char*, diffuser_plugin_emit_fn emit,
                                                 void* sink, char*, size_t) {
  const auto last = static_cast<int32_t>(n - 1);
  const int32_t good[4] = {0, 0, last, 0};
  emit(sink, good, 2);
  const int32_t bad[6] = {0, last, last, static_cast<int32_t>(n), -1, 0};
  emit(sink, bad, 3);
  emit(sink, good, 2);
  return 0;  // claims success: the loader must not believe it
}
