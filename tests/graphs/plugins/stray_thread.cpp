// Test plugin that leaves a thread running after it returns, a thread that would crash the
// process a moment later: the result must still arrive, and nothing must crash diffuser.
#include <chrono>
#include <csignal>
#include <thread>

#include <diffuser/graphs/plugin.h>

DIFFUSER_PLUGIN_EXPORT uint32_t diffuser_plugin_abi_version(void) {
  return DIFFUSER_PLUGIN_ABI_VERSION;
}

DIFFUSER_PLUGIN_EXPORT int diffuser_plugin_build(int64_t n, uint64_t, const char*,
                                                 diffuser_plugin_emit_fn emit, void* sink, char*, size_t) {
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::raise(SIGSEGV);
  }).detach();
  for (int32_t i = 0; i < n; ++i) {
    const int32_t edge[2] = {i, i};
    if (emit(sink, edge, 1) != 0) return 1;
  }
  return 0;
}
