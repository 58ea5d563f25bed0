// Runs a pattern plugin: a shared library speaking the C ABI of <diffuser/graphs/plugin.h>,
// behind the pattern term "plugin:LIB.so[:ARGS]". Every failure names the library.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include <diffuser/engine/csr.hpp>

namespace diffuser::graphs {

// Loads `library` (dlopen with RTLD_NOW | RTLD_LOCAL, so plugins cannot clash with each other or
// with diffuser), checks its ABI version, calls its build function and returns the edges it
// emitted (unsorted, duplicates allowed); the library is unloaded before this returns. A path
// without '/' goes through the dynamic loader's search path, as dlopen does: write "./libx.so"
// for a file in the working directory. Throws Error for a library that cannot be loaded (with
// dlerror's text), a missing symbol, another ABI version, a failure the plugin reports (with its
// message) or an edge outside [0, n) (the first one emitted); UsageError for n outside
// [1, kMaxNodes].
EdgeList plugin_edges(const std::filesystem::path& library, std::string_view args, std::int64_t n,
                      std::uint64_t seed);

}  // namespace diffuser::graphs
