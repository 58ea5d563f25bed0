// The CUDA runtime side of the backend: device discovery, memory (counted for peak-memory
// reports), copies, error checking, the schedule knobs and the copy-bandwidth probe.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <diffuser/engine/error.hpp>

#include "backend.hpp"
#include "common.cuh"
#include "plan.cuh"
#include "schedule.cuh"

namespace diffuser::cuda {

namespace {

__global__ void probe_kernel(int* p) {
  if (p) *p = 1;
}

struct Probe {
  bool ok = false;
  std::string why;
};

const Probe& probe() {
  static Probe result;
  static std::once_flag once;
  std::call_once(once, [] {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      result.why = cat("no CUDA device (", cudaGetErrorName(e), ": ", cudaGetErrorString(e), ")");
      return;
    }
    if (n == 0) {
      result.why = "no CUDA device (cudaGetDeviceCount found none)";
      return;
    }
    cudaFuncAttributes attr{};
    const cudaError_t k = cudaFuncGetAttributes(&attr, probe_kernel);
    if (k != cudaSuccess) {
      (void)cudaGetLastError();
      cudaDeviceProp prop{};
      (void)cudaGetDeviceProperties(&prop, 0);
      result.why =
          cat("the GPU (", prop.name, ", sm_", prop.major, prop.minor, ") cannot run this build's kernels (",
              cudaGetErrorName(k), "); rebuild with -DCMAKE_CUDA_ARCHITECTURES=", prop.major, prop.minor);
      return;
    }
    result.ok = true;
  });
  return result;
}

bool sync_each_launch() {
  static const bool on = [] {
    const char* s = std::getenv("DIFFUSER_CUDA_SYNC");
    return s != nullptr && *s != '\0' && std::string(s) != "0";
  }();
  return on;
}

// Device memory accounting.
struct Accounting {
  std::mutex mu;
  std::unordered_map<void*, std::size_t> sizes;
  std::int64_t in_use = 0, peak = 0;
};
Accounting& accounting() {
  static Accounting* a = new Accounting;  // never destroyed: buffers may be freed during exit
  return *a;
}

Schedule& schedule_ref() {
  static Schedule s = [] {
    Schedule d;
    return d;
  }();
  return s;
}

void parse_schedule(std::string_view spec, Schedule& s) {
  std::size_t pos = 0;
  while (pos <= spec.size()) {
    std::size_t comma = spec.find(',', pos);
    if (comma == std::string_view::npos) comma = spec.size();
    const std::string_view item = spec.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) continue;
    if (item == "default") {
      s = Schedule{};
      continue;
    }
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) throw UsageError(cat("cuda schedule: '", item, "' is not key=value"));
    const std::string_view key = item.substr(0, eq), val = item.substr(eq + 1);
    auto number = [&]() -> std::int64_t {
      try {
        std::size_t used = 0;
        const long long v = std::stoll(std::string(val), &used);
        if (used != val.size()) throw 0;
        return v;
      } catch (...) {
        throw UsageError(cat("cuda schedule: '", item, "' needs an integer"));
      }
    };
    if (key == "hop") {
      if (val == "auto")
        s.hop = HopKernel::automatic;
      else if (val == "w32")
        s.hop = HopKernel::w32;
      else if (val == "w16")
        s.hop = HopKernel::w16;
      else if (val == "w8")
        s.hop = HopKernel::w8;
      else if (val == "h2")
        s.hop = HopKernel::h2;
      else if (val == "row")
        s.hop = HopKernel::row;
      else
        throw UsageError(cat("cuda schedule: hop=", val, " (expected auto, w32, w16, w8, h2 or row)"));
    } else if (key == "score") {
      if (val == "s8")
        s.score_lanes = 8;
      else if (val == "s16")
        s.score_lanes = 16;
      else if (val == "s32")
        s.score_lanes = 32;
      else
        throw UsageError(cat("cuda schedule: score=", val, " (expected s8, s16 or s32)"));
    } else if (key == "step" || key == "sstep") {
      const auto v = number();
      if (v != 0 && v != 8 && v != 16 && v != 32)
        throw UsageError(cat("cuda schedule: ", key, " must be 0, 8, 16 or 32"));
      (key == "step" ? s.hop_step : s.score_step) = static_cast<int>(v);
    } else if (key == "layout") {
      if (val == "hm")
        s.head_major = true;
      else if (val == "em")
        s.head_major = false;
      else
        throw UsageError(cat("cuda schedule: layout=", val, " (expected hm or em)"));
    } else if (key == "hub") {
      const auto v = number();
      if (v < -1) throw UsageError("cuda schedule: hub must be -1, 0 or a degree");
      s.hub = v;
    } else if (key == "panel") {
      const auto v = number();
      if (v < 0 || v > 2) throw UsageError("cuda schedule: panel must be 0, 1 or 2");
      s.panels = static_cast<int>(v);
    } else {
      throw UsageError(
          cat("cuda schedule: unknown key '", key, "' (hop, step, score, sstep, layout, hub, panel)"));
    }
  }
}

std::once_flag env_once;
void load_env_schedule() {
  std::call_once(env_once, [] {
    if (const char* s = std::getenv("DIFFUSER_CUDA_SCHEDULE")) parse_schedule(s, schedule_ref());
  });
}

const char* hop_name(HopKernel h) {
  switch (h) {
    case HopKernel::automatic:
      return "auto";
    case HopKernel::w32:
      return "w32";
    case HopKernel::w16:
      return "w16";
    case HopKernel::w8:
      return "w8";
    case HopKernel::h2:
      return "h2";
    case HopKernel::row:
      return "row";
  }
  return "?";
}

}  // namespace

[[noreturn]] void fail(cudaError_t e, const char* what, const char* file, int line) {
  (void)cudaGetLastError();
  const char* base = std::strrchr(file, '/');
  throw Error(cat("CUDA error ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ") in ", what, " at ",
                  base ? base + 1 : file, ":", line));
}

void check_launch(const char* kernel, const char* file, int line) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) fail(e, cat("launch of ", kernel).c_str(), file, line);
  if (sync_each_launch()) {
    const cudaError_t s = cudaDeviceSynchronize();
    if (s != cudaSuccess) fail(s, cat("kernel ", kernel, " (DIFFUSER_CUDA_SYNC)").c_str(), file, line);
  }
}

int sm_count() {
  static const int n = [] {
    int v = 0;
    DIFFUSER_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, 0));
    return v;
  }();
  return n;
}

const Schedule& current_schedule() {
  load_env_schedule();
  return schedule_ref();
}

void set_schedule(std::string_view spec) {
  load_env_schedule();
  Schedule s = schedule_ref();
  parse_schedule(spec, s);
  schedule_ref() = s;
}

std::string schedule() {
  const Schedule& s = current_schedule();
  return cat("hop=", hop_name(s.hop), ",step=", s.hop_step, ",score=s", s.score_lanes,
             ",sstep=", s.score_step, ",layout=", s.head_major ? "hm" : "em", ",hub=", s.hub,
             ",panel=", s.panels);
}

bool prefers_head_major() {
  return current_schedule().head_major;
}

bool available(std::string* why) {
  const Probe& p = probe();
  if (!p.ok && why) *why = p.why;
  return p.ok;
}

std::string describe() {
  std::string why;
  if (!available(&why)) return why;
  int dev = 0;
  DIFFUSER_CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp p{};
  DIFFUSER_CUDA_CHECK(cudaGetDeviceProperties(&p, dev));
  int driver = 0, runtime = 0;
  DIFFUSER_CUDA_CHECK(cudaDriverGetVersion(&driver));
  DIFFUSER_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  char mem[64];
  std::snprintf(mem, sizeof mem, "%.1f GiB", static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024 * 1024));
  return cat(p.name, ", sm_", p.major, p.minor, ", ", p.multiProcessorCount, " SMs, ", mem, ", L2 ",
             p.l2CacheSize / (1024 * 1024), " MiB, driver ", driver / 1000, ".", (driver % 1000) / 10,
             ", runtime ", runtime / 1000, ".", (runtime % 1000) / 10);
}

void* alloc(std::size_t bytes) {
  std::string why;
  if (!available(&why)) throw Error(cat("cannot allocate GPU memory: ", why));
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    std::size_t free_b = 0, total_b = 0;
    (void)cudaMemGetInfo(&free_b, &total_b);
    throw Error(cat("out of GPU memory: could not allocate ", bytes, " bytes (", free_b, " of ", total_b,
                    " bytes free; ", cudaGetErrorName(e), ")"));
  }
  Accounting& a = accounting();
  std::lock_guard<std::mutex> lock(a.mu);
  a.sizes[p] = bytes;
  a.in_use += static_cast<std::int64_t>(bytes);
  a.peak = std::max(a.peak, a.in_use);
  return p;
}

void free(void* p) noexcept {
  if (!p) return;
  forget_plans_using(p);
  release(p);
}

void release(void* p) noexcept {
  if (!p) return;
  {
    Accounting& a = accounting();
    std::lock_guard<std::mutex> lock(a.mu);
    auto it = a.sizes.find(p);
    if (it != a.sizes.end()) {
      a.in_use -= static_cast<std::int64_t>(it->second);
      a.sizes.erase(it);
    }
  }
  const cudaError_t e = cudaFree(p);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    std::fprintf(stderr, "diffuser: cudaFree failed: %s\n", cudaGetErrorString(e));
  }
}

void copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, std::size_t bytes) {
  const cudaMemcpyKind kind = dst_on_device
                                  ? (src_on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                  : (src_on_device ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  DIFFUSER_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, kStream));
  // Host memory may be pageable or go away after return: copies that touch it complete first.
  if (!dst_on_device || !src_on_device) DIFFUSER_CUDA_CHECK(cudaStreamSynchronize(kStream));
}

void memset_zero(void* p, std::size_t bytes) {
  DIFFUSER_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, kStream));
}

void synchronize() {
  if (!probe().ok) return;
  DIFFUSER_CUDA_CHECK(cudaDeviceSynchronize());
}

std::int64_t bytes_in_use() {
  Accounting& a = accounting();
  std::lock_guard<std::mutex> lock(a.mu);
  return a.in_use;
}
std::int64_t peak_bytes() {
  Accounting& a = accounting();
  std::lock_guard<std::mutex> lock(a.mu);
  return a.peak;
}
void reset_peak_bytes() {
  Accounting& a = accounting();
  std::lock_guard<std::mutex> lock(a.mu);
  a.peak = a.in_use;
}

double copy_gbps(std::int64_t bytes, int reps) {
  void* a = alloc(static_cast<std::size_t>(bytes));
  void* b = nullptr;
  try {
    b = alloc(static_cast<std::size_t>(bytes));
  } catch (...) {
    free(a);
    throw;
  }
  cudaEvent_t t0, t1;
  DIFFUSER_CUDA_CHECK(cudaEventCreate(&t0));
  DIFFUSER_CUDA_CHECK(cudaEventCreate(&t1));
  std::vector<double> gbps;
  DIFFUSER_CUDA_CHECK(cudaMemsetAsync(a, 1, static_cast<std::size_t>(bytes), kStream));
  for (int r = 0; r <= reps; ++r) {
    DIFFUSER_CUDA_CHECK(cudaEventRecord(t0, kStream));
    DIFFUSER_CUDA_CHECK(
        cudaMemcpyAsync(b, a, static_cast<std::size_t>(bytes), cudaMemcpyDeviceToDevice, kStream));
    DIFFUSER_CUDA_CHECK(cudaEventRecord(t1, kStream));
    DIFFUSER_CUDA_CHECK(cudaEventSynchronize(t1));
    float ms = 0;
    DIFFUSER_CUDA_CHECK(cudaEventElapsedTime(&ms, t0, t1));
    if (r > 0) gbps.push_back(2.0 * static_cast<double>(bytes) / (static_cast<double>(ms) * 1e6));
  }
  (void)cudaEventDestroy(t0);
  (void)cudaEventDestroy(t1);
  free(a);
  free(b);
  std::sort(gbps.begin(), gbps.end());
  return gbps[gbps.size() / 2];
}

}  // namespace diffuser::cuda
