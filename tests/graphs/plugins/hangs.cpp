// Test plugin that never returns. With ARGS, it first writes its process id to that file, so a
// test can check that the process is gone afterwards.
#include <unistd.h>

#include <cstdio>

#include <diffuser/graphs/plugin.h>

DIFFUSER_PLUGIN_EXPORT uint32_t diffuser_plugin_abi_version(void) {
  return DIFFUSER_PLUGIN_ABI_VERSION;
}

DIFFUSER_PLUGIN_EXPORT int diffuser_plugin_build(int64_t, uint64_t, const char* args, diffuser_plugin_emit_fn,
                                                 void*, char*, size_t) {
  if (args[0] != '\0') {
    if (std::FILE* f = std::fopen(args, "w")) {
      std::fprintf(f, "%d\n", static_cast<int>(::getpid()));
      std::fclose(f);
    }
  }
  while (true) ::pause();
}
