// Runs a pattern plugin: a shared library speaking the C ABI of <diffuser/graphs/plugin.h>,
// behind the pattern term "plugin:LIB.so[:ARGS]". Every failure names the library.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include <diffuser/engine/csr.hpp>

namespace diffuser::graphs {

struct PluginOptions {
  // A plugin that sends no edges and no result for this long is taken to hang and is stopped.
  double idle_timeout_s = 60.0;
};

// The trust model: a plugin is code the user chose to run, so it runs with the user's rights,
// but in a child process of its own (fork), never in diffuser's. The child loads the library
// (dlopen with RTLD_NOW | RTLD_LOCAL), checks its ABI version, calls its build function and
// sends the emitted edges back through a pipe; emit copies each batch out of the plugin's memory
// with a checked copy (process_vm_readv), so a count larger than the plugin's buffer is reported,
// not read past. The parent checks every byte it receives (frame sizes, ids in [0, n), the memory
// budget). A plugin that crashes (in its constructor or its build function), aborts, calls exit,
// or hangs (no output for options.idle_timeout_s) ends with an Error naming the library and what
// happened; threads it leaves running end with its process. The child dies with the parent.
//
// Returns the edges it emitted (unsorted, duplicates allowed). A path without '/' goes through
// the dynamic loader's search path, as dlopen does: write "./libx.so" for a file in the working
// directory. Throws Error for a library that cannot be loaded (with dlerror's text), a missing
// symbol, another ABI version, a failure the plugin reports (with its message), an edge outside
// [0, n) (the first one emitted), a crash, exit or hang; UsageError for n outside [1, kMaxNodes].
EdgeList plugin_edges(const std::filesystem::path& library, std::string_view args, std::int64_t n,
                      std::uint64_t seed, const PluginOptions& options = {});

}  // namespace diffuser::graphs
