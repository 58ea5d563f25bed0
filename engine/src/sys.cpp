#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <sys/resource.h>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>

namespace diffuser {

namespace {

// Reads "Key:   123 kB" from a /proc file; returns bytes or -1.
std::int64_t proc_kb_field(const char* file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0 && line.size() > key.size() && line[key.size()] == ':') {
      std::istringstream is(line.substr(key.size() + 1));
      std::int64_t kb = -1;
      is >> kb;
      return kb < 0 ? -1 : kb * 1024;
    }
  }
  return -1;
}

std::int64_t read_number_file(const char* path) {
  std::ifstream in(path);
  std::string s;
  if (!(in >> s) || s == "max") return -1;
  try {
    return std::stoll(s);
  } catch (...) {
    return -1;
  }
}

// limit_memory_budget's cap; set once at start-up by a harness, read by every budget check.
std::atomic<std::int64_t> g_budget_cap{0};

}  // namespace

void limit_memory_budget(std::int64_t bytes) {
  g_budget_cap = std::max<std::int64_t>(0, bytes);
}

std::int64_t peak_rss_bytes() {
  return std::max<std::int64_t>(0, proc_kb_field("/proc/self/status", "VmHWM"));
}

bool reset_peak_rss() {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return (std::fclose(f) == 0) && ok;
}

std::int64_t available_memory_bytes() {
  std::int64_t avail = proc_kb_field("/proc/meminfo", "MemAvailable");
  // A cgroup v2 (or v1) limit can be tighter than the machine's free memory.
  std::int64_t limit = read_number_file("/sys/fs/cgroup/memory.max");
  std::int64_t used = read_number_file("/sys/fs/cgroup/memory.current");
  if (limit < 0) {
    limit = read_number_file("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    used = read_number_file("/sys/fs/cgroup/memory/memory.usage_in_bytes");
  }
  if (limit > 0 && limit < (std::int64_t{1} << 60)) {
    const std::int64_t room = limit - std::max<std::int64_t>(0, used);
    avail = avail < 0 ? room : std::min(avail, room);
  }
  // ulimit -v: new mappings fail once the address space reaches the limit, whatever is free.
  rlimit as{};
  if (::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY && as.rlim_cur < (rlim_t{1} << 62)) {
    const std::int64_t mapped = proc_kb_field("/proc/self/status", "VmSize");
    const std::int64_t room = static_cast<std::int64_t>(as.rlim_cur) - std::max<std::int64_t>(0, mapped);
    avail = avail < 0 ? room : std::min(avail, room);
  }
  if (const std::int64_t cap = g_budget_cap.load(); cap > 0) avail = avail < 0 ? cap : std::min(avail, cap);
  return std::max<std::int64_t>(0, avail);
}

std::string format_bytes(std::int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", v, units[u]);
  return buf;
}

void require_memory(std::int64_t bytes, const std::string& what) {
  require_memory(static_cast<double>(bytes), what);
}

void require_memory(double bytes, const std::string& what) {
  const std::int64_t avail = available_memory_bytes();
  // Beyond 2^62 bytes no machine can hold it, known budget or not (and format_bytes stays exact).
  const bool absurd = !(bytes < 4.6e18);
  if (absurd || (avail > 0 && bytes > static_cast<double>(avail)))
    throw Error(cat("not enough memory: ", what, " needs about ",
                    absurd ? cat(bytes, " bytes") : format_bytes(static_cast<std::int64_t>(bytes)),
                    " but only ", format_bytes(avail), " is available"));
}

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  const auto mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  double m = values[mid];
  if (values.size() % 2 == 0) {
    const double lower = *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid));
    m = 0.5 * (m + lower);
  }
  return m;
}

}  // namespace diffuser
