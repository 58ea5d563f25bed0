// dlopen/dlsym loader for pattern plugins; the ABI it checks is documented in plugin.h.
#include <dlfcn.h>

#include <exception>
#include <string>

#include <diffuser/engine/error.hpp>
#include <diffuser/graphs/plugin.h>
#include <diffuser/graphs/plugin_loader.hpp>

namespace diffuser::graphs {

namespace {

// Closes the library on every path out of plugin_edges, errors included.
class Library {
 public:
  explicit Library(const std::string& path) {
    ::dlerror();  // clear any stale message so the one we report is ours
    handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
      const char* why = ::dlerror();
      throw Error(cat("plugin ", path, ": cannot load: ", why ? why : "unknown dlopen error"));
    }
  }
  ~Library() {
    if (handle_) ::dlclose(handle_);
  }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;

  void* symbol(const std::string& path, const char* name) const {
    ::dlerror();
    void* p = ::dlsym(handle_, name);
    if (!p) {
      const char* why = ::dlerror();
      throw Error(cat("plugin ", path, ": missing symbol ", name, " (not a diffuser plugin?)",
                      why ? cat(": ", why) : std::string()));
    }
    return p;
  }

 private:
  void* handle_ = nullptr;
};

// What emit writes into. Exceptions must not cross the C ABI, so failures are recorded here and
// reported after the plugin returns.
struct Sink {
  EdgeList* edges = nullptr;
  std::int64_t n = 0;
  bool stopped = false;
  std::string error;  // set together with stopped
};

int emit_edges(void* sink_ptr, const std::int32_t* pairs, std::int64_t count) noexcept {
  auto& sink = *static_cast<Sink*>(sink_ptr);
  if (sink.stopped) return 1;
  if (count < 0 || (count > 0 && !pairs)) {
    sink.stopped = true;
    sink.error = cat("emit called with a bad batch (", count, " pairs at ", static_cast<const void*>(pairs), ")");
    return 1;
  }
  // Check the whole batch before taking any of it, so the report names the first bad edge.
  for (std::int64_t e = 0; e < count; ++e) {
    const std::int32_t s = pairs[2 * e], d = pairs[2 * e + 1];
    if (s < 0 || s >= sink.n || d < 0 || d >= sink.n) {
      sink.stopped = true;
      sink.error = cat("emitted edge ", sink.edges->size() + e, " (", s, " -> ", d,
                       ") has an endpoint outside [0, ", sink.n, ")");
      return 1;
    }
  }
  try {
    auto& src = sink.edges->src;
    auto& dst = sink.edges->dst;
    const auto old = src.size();
    src.resize(old + static_cast<std::size_t>(count));
    dst.resize(old + static_cast<std::size_t>(count));
    for (std::int64_t e = 0; e < count; ++e) {
      src[old + static_cast<std::size_t>(e)] = pairs[2 * e];
      dst[old + static_cast<std::size_t>(e)] = pairs[2 * e + 1];
    }
  } catch (const std::exception& ex) {
    sink.stopped = true;
    sink.error = cat("cannot store the emitted edges: ", ex.what());
    return 1;
  }
  return 0;
}

}  // namespace

EdgeList plugin_edges(const std::filesystem::path& library, std::string_view args, std::int64_t n,
                      std::uint64_t seed) {
  const std::string path = library.string();
  if (n < 1 || n > kMaxNodes)
    throw UsageError(cat("plugin ", path, ": the number of tokens must be in [1, ", kMaxNodes, "], got ", n));
  Library lib(path);
  auto version = reinterpret_cast<diffuser_plugin_abi_version_fn>(lib.symbol(path, DIFFUSER_PLUGIN_VERSION_SYMBOL));
  const std::uint32_t v = version();
  if (v != DIFFUSER_PLUGIN_ABI_VERSION)
    throw Error(cat("plugin ", path, ": built for ABI v", v, ", this diffuser speaks v", DIFFUSER_PLUGIN_ABI_VERSION,
                    " (rebuild it against this diffuser's plugin.h)"));
  auto build = reinterpret_cast<diffuser_plugin_build_fn>(lib.symbol(path, DIFFUSER_PLUGIN_BUILD_SYMBOL));

  EdgeList edges;
  edges.n = n;
  Sink sink;
  sink.edges = &edges;
  sink.n = n;
  const std::string arg_text(args);  // NUL-terminated copy the plugin may read
  char message[1024] = {};
  const int rc = build(n, seed, arg_text.c_str(), &emit_edges, &sink, message, sizeof message);
  message[sizeof message - 1] = '\0';  // in case the plugin forgot the terminator
  if (sink.stopped) throw Error(cat("plugin ", path, ": ", sink.error));
  if (rc != 0) {
    std::string text = message[0] ? std::string(message) : cat("returned ", rc, " without a message");
    for (auto& c : text)  // keep the report on one line whatever the plugin wrote
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    throw Error(cat("plugin ", path, " failed: ", text));
  }
  return edges;
}

}  // namespace diffuser::graphs
