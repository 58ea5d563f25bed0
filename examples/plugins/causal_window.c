/* Example diffuser pattern plugin: a causal sliding window, as a decoder-only model would use.
 * Token i attends to tokens i-W .. i (itself included); ARGS is the window W (default 16).
 *
 *   diffuser graph --pattern "plugin:./libdiffuser_example_plugin.so:32" ...
 *
 * Shows the whole C ABI of diffuser/graphs/plugin.h: version check, argument parsing with a
 * clear error message, batched emission, and stopping when diffuser asks to. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <diffuser/graphs/plugin.h>

/* Edges per emit call: large enough that call overhead is negligible, small enough for the stack. */
#define BATCH 4096

DIFFUSER_PLUGIN_EXPORT uint32_t diffuser_plugin_abi_version(void) { return DIFFUSER_PLUGIN_ABI_VERSION; }

DIFFUSER_PLUGIN_EXPORT int diffuser_plugin_build(int64_t n, uint64_t seed, const char* args,
                                                 diffuser_plugin_emit_fn emit, void* sink, char* error,
                                                 size_t error_size) {
  (void)seed; /* deterministic pattern: no random numbers */
  long long window = 16;
  if (args[0] != '\0') {
    char* end = NULL;
    errno = 0;
    window = strtoll(args, &end, 10);
    if (errno != 0 || *end != '\0' || window < 0) {
      snprintf(error, error_size, "causal_window: ARGS must be a non-negative window width, got '%s'", args);
      return 1;
    }
  }

  int32_t pairs[2 * BATCH];
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t first = i - window > 0 ? i - window : 0;
    for (int64_t j = first; j <= i; ++j) {
      pairs[2 * count] = (int32_t)j;     /* src: the token attended to */
      pairs[2 * count + 1] = (int32_t)i; /* dst: the token attending */
      if (++count == BATCH) {
        if (emit(sink, pairs, count) != 0) return 1; /* diffuser reports why */
        count = 0;
      }
    }
  }
  if (count > 0 && emit(sink, pairs, count) != 0) return 1;
  return 0;
}
