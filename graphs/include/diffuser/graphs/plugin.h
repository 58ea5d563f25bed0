/* The C ABI of diffuser pattern plugins: a shared library that builds a token graph for the
 * pattern term "plugin:LIB.so[:ARGS]". Pure C, so plugins can be written in C, C++, Rust, ...
 *
 * A plugin exports two functions (mark both with DIFFUSER_PLUGIN_EXPORT):
 *
 *   uint32_t diffuser_plugin_abi_version(void);
 *       Returns DIFFUSER_PLUGIN_ABI_VERSION as the plugin saw it when it was compiled. diffuser
 *       calls it first and refuses a plugin built for another version, without calling anything
 *       else in it.
 *
 *   int diffuser_plugin_build(int64_t n, uint64_t seed, const char* args,
 *                             diffuser_plugin_emit_fn emit, void* sink,
 *                             char* error, size_t error_size);
 *       Builds the graph over n tokens (1 <= n <= 2^31 - 1) by calling emit(sink, pairs, count)
 *       with batches of edges. pairs holds count (src, dst) pairs, interleaved:
 *       src0, dst0, src1, dst1, ... An edge src -> dst means token dst attends to token src.
 *       Ids must lie in [0, n); duplicates are allowed (they collapse). seed is the user's --seed:
 *       a plugin that draws random numbers should derive them from it so that the same
 *       (args, n, seed) gives the same graph. args is the text after "LIB.so:" in the pattern
 *       (empty string when absent, never NULL).
 *       Returns 0 on success. On failure returns nonzero and writes a one-line, NUL-terminated
 *       message of at most error_size bytes (truncate if needed) into error; diffuser reports
 *       it as "plugin LIB.so failed: <message>".
 *
 * Ownership: args, error and sink belong to diffuser and are valid only during the call. The
 * pairs buffer belongs to the plugin: emit copies the batch before it returns, so the plugin may
 * reuse the buffer at once. Any batch size works; a few thousand pairs per call keeps the call
 * overhead negligible.
 *
 * Return code of emit: 0 means go on; nonzero means diffuser has stopped accepting edges (an id
 * outside [0, n), or out of memory). The plugin should then stop and return nonzero; diffuser
 * reports its own, more precise error and ignores the plugin's message.
 *
 * Threading: diffuser calls diffuser_plugin_build from one thread and never twice at the same
 * time. emit is not thread-safe: call it from one thread at a time (a plugin that builds in
 * parallel must serialise its calls to emit). No thread started by the plugin should outlive the
 * call: diffuser ends the plugin's process as soon as it returns.
 *
 * Trust model: a plugin is code the user chose to run, with the user's rights; diffuser does not
 * sandbox it. It does isolate itself from the plugin's mistakes: every plugin runs in a child
 * process of its own, which loads the library, calls diffuser_plugin_build and sends the edges to
 * diffuser through a pipe. emit copies each batch with a checked copy (a count larger than the
 * buffer ends with a clear error, not a read past it) and checks every id; diffuser checks the
 * received data again and the memory it needs. A plugin that crashes (in a constructor or in
 * diffuser_plugin_build), aborts, calls exit(), or sends nothing for 60 s ends the command with a
 * one-line error naming the library and exit status 1. Output a plugin prints itself goes to
 * diffuser's stdout and stderr unchanged.
 *
 * Errors must not unwind through this ABI: a C++ plugin catches its exceptions inside
 * diffuser_plugin_build and returns nonzero with a message.
 *
 * Build: cc -shared -fPIC -O2 -I<diffuser>/graphs/include mine.c -o libmine.so
 */
#ifndef DIFFUSER_GRAPHS_PLUGIN_H
#define DIFFUSER_GRAPHS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

/* Bumped whenever a signature or a rule above changes incompatibly. */
#define DIFFUSER_PLUGIN_ABI_VERSION 1u

/* Symbol names diffuser looks up with dlsym. */
#define DIFFUSER_PLUGIN_VERSION_SYMBOL "diffuser_plugin_abi_version"
#define DIFFUSER_PLUGIN_BUILD_SYMBOL "diffuser_plugin_build"

/* Makes a function visible to dlsym even when the plugin is built with -fvisibility=hidden. */
#if defined(_WIN32)
#define DIFFUSER_PLUGIN_VISIBLE __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define DIFFUSER_PLUGIN_VISIBLE __attribute__((visibility("default")))
#else
#define DIFFUSER_PLUGIN_VISIBLE
#endif

/* C linkage as well, so a C++ plugin exports the plain names diffuser looks up. */
#ifdef __cplusplus
#define DIFFUSER_PLUGIN_EXPORT extern "C" DIFFUSER_PLUGIN_VISIBLE
#else
#define DIFFUSER_PLUGIN_EXPORT DIFFUSER_PLUGIN_VISIBLE
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Receives a batch of count edges as interleaved (src, dst) pairs; see the rules above. */
typedef int (*diffuser_plugin_emit_fn)(void* sink, const int32_t* pairs, int64_t count);

/* The two entry points, as function-pointer types for the loader. */
typedef uint32_t (*diffuser_plugin_abi_version_fn)(void);
typedef int (*diffuser_plugin_build_fn)(int64_t n, uint64_t seed, const char* args,
                                        diffuser_plugin_emit_fn emit, void* sink, char* error,
                                        size_t error_size);

#ifdef __cplusplus
}
#endif

#endif /* DIFFUSER_GRAPHS_PLUGIN_H */
