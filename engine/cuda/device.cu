// The CUDA runtime side of the backend: device discovery, the current context's device and stream,
// memory (a caller's allocator or the engine's stream-ordered pool, counted for peak-memory
// reports), copies, error checking and the copy-bandwidth probe.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <diffuser/engine/context.hpp>
#include <diffuser/engine/error.hpp>

#include "../src/cuda_schedule.hpp"
#include "backend.hpp"
#include "common.cuh"

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

// Device memory accounting, and how each block was allocated (to free it the same way).
struct Block {
  std::size_t bytes = 0;
  int device = 0;
  cudaStream_t stream = nullptr;
  std::shared_ptr<DeviceAllocator> allocator;  // null: the engine's pool
};
struct Accounting {
  std::mutex mu;
  std::unordered_map<void*, Block> blocks;
  std::int64_t in_use = 0, peak = 0;
};
Accounting& accounting() {
  static Accounting* a = new Accounting;  // never destroyed: buffers may be freed during exit
  return *a;
}

constexpr int kMaxDevices = 64;

// The engine's stream-ordered pool of a device (cudaMallocFromPoolAsync): its own pool, so that
// keeping freed memory for reuse (release threshold: never) does not change the default pool that
// other libraries in the process may use. Created once per device; immutable after.
cudaMemPool_t pool(int device) {
  static std::mutex mu;
  static cudaMemPool_t pools[kMaxDevices] = {};
  std::lock_guard<std::mutex> lock(mu);
  if (pools[device] == nullptr) {
    cudaMemPoolProps props{};
    props.allocType = cudaMemAllocationTypePinned;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = device;
    DIFFUSER_CUDA_CHECK(cudaMemPoolCreate(&pools[device], &props));
    std::uint64_t keep = UINT64_MAX;
    DIFFUSER_CUDA_CHECK(cudaMemPoolSetAttribute(pools[device], cudaMemPoolAttrReleaseThreshold, &keep));
  }
  return pools[device];
}

void use_device(int device) {
  DIFFUSER_CHECK(device >= 0 && device < kMaxDevices, "CUDA device ", device, " is out of range");
  int now = -1;
  DIFFUSER_CUDA_CHECK(cudaGetDevice(&now));
  if (now != device) DIFFUSER_CUDA_CHECK(cudaSetDevice(device));
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
  if (current_context().options().cuda.sync_each_launch) {
    const cudaError_t s = cudaStreamSynchronize(current_stream());
    if (s != cudaSuccess) fail(s, cat("kernel ", kernel, " (sync_each_launch)").c_str(), file, line);
  }
}

cudaStream_t current_stream() {
  const CudaOptions& o = current_context().options().cuda;
  use_device(o.device);
  return static_cast<cudaStream_t>(o.stream);
}

int current_device() {
  return current_context().options().cuda.device;
}

int sm_count() {
  static std::atomic<int> counts[kMaxDevices] = {};
  const int dev = current_device();
  int n = counts[dev].load(std::memory_order_relaxed);
  if (n == 0) {
    DIFFUSER_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
    counts[dev].store(n, std::memory_order_relaxed);
  }
  return n;
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
  const int dev = current_device();
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
  const CudaOptions& o = current_context().options().cuda;
  Block block{bytes, o.device, current_stream(), o.allocator};
  void* p = nullptr;
  if (block.allocator) {
    p = block.allocator->allocate(bytes, block.stream);
    DIFFUSER_CHECK(p != nullptr || bytes == 0, "the caller's device allocator returned no memory for ", bytes,
                   " bytes");
  } else {
    const cudaError_t e = cudaMallocFromPoolAsync(&p, bytes, pool(block.device), block.stream);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      std::size_t free_b = 0, total_b = 0;
      (void)cudaMemGetInfo(&free_b, &total_b);
      throw Error(cat("out of GPU memory: could not allocate ", bytes, " bytes (", free_b, " of ", total_b,
                      " bytes free; ", cudaGetErrorName(e), ")"));
    }
  }
  if (!p) return nullptr;  // zero bytes: nothing to account, free(nullptr) does nothing
  {
    Accounting& a = accounting();
    std::lock_guard<std::mutex> lock(a.mu);
    if (a.blocks.try_emplace(p, block).second) {
      a.in_use += static_cast<std::int64_t>(bytes);
      a.peak = std::max(a.peak, a.in_use);
      return p;
    }
  }
  // Only a caller's allocator can get here (the pool never returns live memory): it handed out an
  // address the engine still holds, e.g. the start of a block it got from the engine. Accounting
  // it would lose the other block's entry and leak it.
  block.allocator->deallocate(p, bytes, block.stream);
  throw Error(cat("the caller's device allocator returned ", p, " for ", bytes,
                  " bytes, an address the engine already holds as a live allocation"));
}

void free(void* p) noexcept {
  if (!p) return;
  Block block;
  {
    Accounting& a = accounting();
    std::lock_guard<std::mutex> lock(a.mu);
    auto it = a.blocks.find(p);
    if (it == a.blocks.end()) {
      std::fprintf(stderr, "diffuser: freeing GPU memory the engine did not allocate (%p)\n", p);
      return;
    }
    block = std::move(it->second);
    a.in_use -= static_cast<std::int64_t>(block.bytes);
    a.blocks.erase(it);
  }
  // Stream-ordered: work queued on the block's stream before this point may still read it.
  if (block.allocator) {
    block.allocator->deallocate(p, block.bytes, block.stream);
    return;
  }
  int now = -1;
  (void)cudaGetDevice(&now);
  if (now != block.device) (void)cudaSetDevice(block.device);
  const cudaError_t e = cudaFreeAsync(p, block.stream);
  if (now != block.device && now >= 0) (void)cudaSetDevice(now);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    std::fprintf(stderr, "diffuser: cudaFreeAsync failed: %s\n", cudaGetErrorString(e));
  }
}

void copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, std::size_t bytes) {
  const cudaMemcpyKind kind = dst_on_device
                                  ? (src_on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                  : (src_on_device ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  const cudaStream_t stream = current_stream();
  DIFFUSER_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, stream));
  // Host memory may be pageable or go away after return: copies that touch it complete first.
  if (!dst_on_device || !src_on_device) DIFFUSER_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void memset_zero(void* p, std::size_t bytes) {
  DIFFUSER_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, current_stream()));
}

void synchronize() {
  if (!probe().ok) return;
  DIFFUSER_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
}

void* stream_create(int device) {
  use_device(device);
  cudaStream_t s = nullptr;
  DIFFUSER_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}

void stream_destroy(void* stream, int device) noexcept {
  int now = -1;
  (void)cudaGetDevice(&now);
  if (now != device) (void)cudaSetDevice(device);
  (void)cudaStreamDestroy(static_cast<cudaStream_t>(stream));
  if (now != device && now >= 0) (void)cudaSetDevice(now);
}

void stream_synchronize(void* stream) {
  DIFFUSER_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)));
}

double graph_replay_ms(const std::function<void()>& f, int replays) {
  const cudaStream_t stream = current_stream();
  DIFFUSER_CHECK(stream != nullptr,
                 "a CUDA graph needs a stream of its own (the legacy default stream "
                 "cannot be captured): set CudaOptions::stream");
  cudaGraph_t graph = nullptr;
  DIFFUSER_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    f();
  } catch (...) {
    (void)cudaStreamEndCapture(stream, &graph);
    if (graph) (void)cudaGraphDestroy(graph);
    throw;
  }
  DIFFUSER_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec = nullptr;
  DIFFUSER_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  std::vector<double> ms;
  cudaEvent_t t0, t1;
  DIFFUSER_CUDA_CHECK(cudaEventCreate(&t0));
  DIFFUSER_CUDA_CHECK(cudaEventCreate(&t1));
  for (int r = 0; r <= replays; ++r) {
    DIFFUSER_CUDA_CHECK(cudaEventRecord(t0, stream));
    DIFFUSER_CUDA_CHECK(cudaGraphLaunch(exec, stream));
    DIFFUSER_CUDA_CHECK(cudaEventRecord(t1, stream));
    DIFFUSER_CUDA_CHECK(cudaEventSynchronize(t1));
    float v = 0;
    DIFFUSER_CUDA_CHECK(cudaEventElapsedTime(&v, t0, t1));
    if (r > 0) ms.push_back(v);
  }
  (void)cudaEventDestroy(t0);
  (void)cudaEventDestroy(t1);
  (void)cudaGraphExecDestroy(exec);
  (void)cudaGraphDestroy(graph);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
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
  DIFFUSER_CUDA_CHECK(cudaMemsetAsync(a, 1, static_cast<std::size_t>(bytes), current_stream()));
  for (int r = 0; r <= reps; ++r) {
    DIFFUSER_CUDA_CHECK(cudaEventRecord(t0, current_stream()));
    DIFFUSER_CUDA_CHECK(
        cudaMemcpyAsync(b, a, static_cast<std::size_t>(bytes), cudaMemcpyDeviceToDevice, current_stream()));
    DIFFUSER_CUDA_CHECK(cudaEventRecord(t1, current_stream()));
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
