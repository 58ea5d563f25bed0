#include <cstdlib>
#include <string>
#include <string_view>

#include <diffuser/engine/environment.hpp>
#include <diffuser/engine/error.hpp>

namespace diffuser {

namespace {

const char* get(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

bool flag(const char* name, const char* v) {
  const std::string_view s(v);
  if (s == "1" || s == "on" || s == "true" || s == "yes") return true;
  if (s == "0" || s == "off" || s == "false" || s == "no") return false;
  throw UsageError(cat(name, "=", s, ": expected 0 or 1"));
}

std::int64_t integer(const char* name, const char* v, std::int64_t lo, std::int64_t hi) {
  char* end = nullptr;
  const long long x = std::strtoll(v, &end, 10);
  if (end == v || *end != '\0' || x < lo || x > hi)
    throw UsageError(cat(name, "=", v, ": expected an integer in [", lo, ", ", hi, "]"));
  return x;
}

}  // namespace

ContextOptions context_options_from_environment(ContextOptions o) {
  // The variables of earlier versions, which meant the opposite of their value half the time.
  constexpr const char* kRenamed[][2] = {{"DIFFUSER_NO_PANELS", "DIFFUSER_PANELS=0"},
                                         {"DIFFUSER_NO_HUB_PANELS", "DIFFUSER_HUB_PANELS=0"},
                                         {"DIFFUSER_NO_HUB", "DIFFUSER_HUB_ROWS=0"}};
  for (const auto& r : kRenamed)
    if (get(r[0])) throw UsageError(cat(r[0], " is no longer read: use ", r[1]));
  CpuOptions& c = o.cpu;
  if (const char* v = get("DIFFUSER_CPU_ISA")) {
    try {
      c.isa = parse_cpu_isa(v);
    } catch (const UsageError& e) {
      throw UsageError(cat("DIFFUSER_CPU_ISA: ", e.what()));
    }
  }
  if (const char* v = get("DIFFUSER_THREADS"))
    c.threads = static_cast<int>(integer("DIFFUSER_THREADS", v, 0, 4096));
  if (const char* v = get("DIFFUSER_PANELS")) c.panels = flag("DIFFUSER_PANELS", v);
  if (const char* v = get("DIFFUSER_HUB_PANELS")) c.hub_panels = flag("DIFFUSER_HUB_PANELS", v);
  if (const char* v = get("DIFFUSER_HUB_ROWS")) c.hub_rows = flag("DIFFUSER_HUB_ROWS", v);
  if (const char* v = get("DIFFUSER_HUB_THRESHOLD"))
    c.hub_threshold = integer("DIFFUSER_HUB_THRESHOLD", v, 1, std::int64_t{1} << 40);
  if (const char* v = get("DIFFUSER_PANEL_ROWS")) {
    c.panel_rows = static_cast<int>(integer("DIFFUSER_PANEL_ROWS", v, 16, 32));
    if (c.panel_rows != 16 && c.panel_rows != 32)
      throw UsageError(cat("DIFFUSER_PANEL_ROWS=", v, ": expected 16 or 32"));
  }
  if (const char* v = get("DIFFUSER_PANEL_SHARE"))
    c.panel_share_pct = static_cast<int>(integer("DIFFUSER_PANEL_SHARE", v, 1, 100));
  if (const char* v = get("DIFFUSER_HUB_CHUNK_ROWS"))
    c.hub_chunk_rows = static_cast<int>(integer("DIFFUSER_HUB_CHUNK_ROWS", v, 16, 64));
  CudaOptions& g = o.cuda;
  if (const char* v = get("DIFFUSER_CUDA_DEVICE"))
    g.device = static_cast<int>(integer("DIFFUSER_CUDA_DEVICE", v, 0, 1023));
  if (const char* v = get("DIFFUSER_CUDA_SCHEDULE")) g.schedule = v;
  if (const char* v = get("DIFFUSER_CUDA_SYNC")) g.sync_each_launch = flag("DIFFUSER_CUDA_SYNC", v);
  if (const char* v = get("DIFFUSER_BWD_GENERIC")) g.backward_generic = flag("DIFFUSER_BWD_GENERIC", v);
  if (const char* v = get("DIFFUSER_BWD_HEADS"))
    g.backward_heads = static_cast<int>(integer("DIFFUSER_BWD_HEADS", v, 0, 64));
  return o;
}

}  // namespace diffuser
