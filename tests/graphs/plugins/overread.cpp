// Test plugin that tells emit its 4-pair buffer holds far more pairs than it does: diffuser must
// refuse the batch, not read past the buffer.
#include <diffuser/graphs/plugin.h>

DIFFUSER_PLUGIN_EXPORT uint32_t diffuser_plugin_abi_version(void) {
  return DIFFUSER_PLUGIN_ABI_VERSION;
}

DIFFUSER_PLUGIN_EXPORT int diffuser_plugin_build(int64_t, uint64_t, const char*, diffuser_plugin_emit_fn emit,
                                                 void* sink, char*, size_t) {
  const int32_t pairs[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  return emit(sink, pairs, int64_t{1} << 40) != 0 ? 1 : 0;
}
