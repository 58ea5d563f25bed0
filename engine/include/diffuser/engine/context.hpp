// The execution context: where and how the engine's primitives run. Every primitive, the
// diffusion and the layer run in the *current* context of the calling thread: the one a
// ContextScope installed on this thread, else the process default (the best CPU level, every
// hardware thread, the measured default kernels). A context is immutable once built and may be
// shared by any number of threads; scopes are per thread, so two threads can run in different
// contexts at the same time (docs/ARCHITECTURE.md, "Execution context").
//
//   diffuser::Context ctx({.cpu = {.isa = diffuser::CpuIsa::avx2, .threads = 2}});
//   diffuser::ContextScope scope(ctx);     // this thread now runs in ctx
//   diffuser::ops::edge_attention(...);    // AVX2 kernels on 2 threads
//
// On the GPU a context names the device, the stream every kernel, copy and library call is queued
// on, and the allocator of device memory (a caller's, e.g. PyTorch's caching allocator, or the
// engine's stream-ordered pool). No primitive synchronises the device unless it returns a host
// value; a graph's first use on the GPU builds its plans with one synchronisation of the stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <diffuser/engine/cpu_isa.hpp>

namespace diffuser {

// The CPU's matrix product: OpenBLAS (default) or a plain blocked loop kept to measure OpenBLAS
// against. (The CUDA backend always uses cuBLAS, FP32, no TF32.)
enum class CpuGemm { blas, blocked };

// The CPU backend's choices. Left unset, a choice takes the default measured best for the level.
struct CpuOptions {
  std::optional<CpuIsa> isa;  // unset: cpu_isa_best()
  int threads = 0;            // worker threads of the context's TBB arena; 0: every hardware thread

  // Kernel selection (docs/ARCHITECTURE.md, "CPU kernels"); for experiments and tests.
  std::optional<bool> panels;      // dense panels for rows that share sources (unset: the level's default)
  bool hub_panels = true;          // hub rows as panels too (else the tiled hub path)
  bool hub_rows = true;            // the tiled path for hub rows (off: hub rows take the per-row path)
  std::int64_t hub_threshold = 0;  // rows of degree >= this are hubs (0: max(1024, 8 x mean degree))
  int panel_rows = 32;             // rows per panel chunk: 16 or 32
  int panel_share_pct = 50;        // a panel source occurs in at least this % of its chunk's rows
  int hub_chunk_rows = 32;         // hub rows per hub panel chunk: 16 .. 64
  CpuGemm gemm = CpuGemm::blas;    // the dense layer's matrix products
};

// Device memory for the CUDA backend, supplied by a caller that manages its own (as faiss's
// GpuResources or PyTorch's caching allocator do). Called from any thread; must be thread-safe.
class DeviceAllocator {
 public:
  virtual ~DeviceAllocator() = default;
  // At least `bytes` of device memory for work on `stream` (a cudaStream_t), 256-byte aligned;
  // throws (any exception) when it cannot.
  virtual void* allocate(std::size_t bytes, void* stream) = 0;
  // Takes back memory from allocate(), on the stream it was allocated for: work queued on that
  // stream before this call may still use it (stream order, as cudaFreeAsync).
  virtual void deallocate(void* p, std::size_t bytes, void* stream) noexcept = 0;
};

// The CUDA backend's choices.
struct CudaOptions {
  int device = 0;                              // CUDA device index
  void* stream = nullptr;                      // cudaStream_t; null: the legacy default stream
  std::shared_ptr<DeviceAllocator> allocator;  // null: cudaMallocAsync / cudaFreeAsync on the stream
  // Kernel schedule for experiments: "key=value,..." (baselines.hpp lists the keys); "" default.
  std::string schedule;
  bool sync_each_launch = false;  // synchronise after every launch and name the failing kernel (debugging)
  bool backward_generic = false;  // the older generic backward kernels (comparisons)
  int backward_heads = 0;         // heads per CTA of the backward gathers (0: the measured default)
};

struct ContextOptions {
  CpuOptions cpu;
  CudaOptions cuda;
};

// The parsed CUDA kernel schedule (engine-internal: engine/src/cuda_schedule.hpp).
struct CudaSchedule;

class Context {
 public:
  // Checks the options (a CPU level this machine lacks, a value out of range: UsageError).
  explicit Context(ContextOptions options = {});
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const ContextOptions& options() const { return options_; }
  // The CUDA kernel schedule (parsed and checked when the context was built) and its text.
  const CudaSchedule& cuda_schedule() const { return *schedule_; }
  std::string cuda_schedule_text() const;
  // The resolved CPU level and thread count.
  CpuIsa cpu_isa() const { return isa_; }
  int cpu_threads() const { return threads_; }
  // Whether the dense panels run at this context's level (the option, else the level's default).
  bool cpu_panels() const;

  // Runs f in this context: as its current context, on its CPU threads (its TBB arena: every TBB
  // loop inside uses at most cpu_threads() threads). Re-entrant.
  void run(const std::function<void()>& f) const;

  // The process default context (built on first use, never changed).
  static const Context& process_default();

 private:
  struct Arena;
  ContextOptions options_;
  CpuIsa isa_;
  int threads_;
  std::unique_ptr<Arena> arena_;  // null: the default arena (every hardware thread)
  std::unique_ptr<const CudaSchedule> schedule_;
};

// The context of the calling thread (a ContextScope's, else Context::process_default()).
const Context& current_context();

// Makes `ctx` the calling thread's current context until destroyed (scopes nest; destroy them in
// reverse order, on the thread that made them). ctx must outlive the scope.
class ContextScope {
 public:
  explicit ContextScope(const Context& ctx);
  ~ContextScope();
  ContextScope(const ContextScope&) = delete;
  ContextScope& operator=(const ContextScope&) = delete;

 private:
  const Context* previous_;
};

// Runs f in the current context, on its threads (for code outside the primitives that uses TBB
// loops: graph construction, analysis) and returns its result.
template <class F>
auto in_current_context(F&& f) -> decltype(f()) {
  if constexpr (std::is_void_v<decltype(f())>) {
    current_context().run(std::forward<F>(f));
  } else {
    std::optional<decltype(f())> out;
    current_context().run([&] { out.emplace(f()); });
    return std::move(*out);
  }
}

}  // namespace diffuser
