// The execution context: options checked once, a TBB arena when the thread count is limited, and
// the calling thread's current context (a thread-local pointer set by ContextScope).
#include <tbb/task_arena.h>

#include <diffuser/engine/context.hpp>
#include <diffuser/engine/error.hpp>

#include "cuda_schedule.hpp"

namespace diffuser {

struct Context::Arena {
  explicit Arena(int threads) : arena(threads) {}
  tbb::task_arena arena;
};

namespace {

thread_local const Context* t_current = nullptr;

void check_options(const CpuOptions& o) {
  if (o.isa) require_cpu_isa(*o.isa);
  if (o.threads < 0) throw UsageError(cat("threads must be >= 0 (0: all), got ", o.threads));
  if (o.panel_rows != 16 && o.panel_rows != 32)
    throw UsageError(cat("panel rows must be 16 or 32, got ", o.panel_rows));
  if (o.panel_share_pct < 1 || o.panel_share_pct > 100)
    throw UsageError(cat("panel share must be 1..100 %, got ", o.panel_share_pct));
  if (o.hub_chunk_rows < 16 || o.hub_chunk_rows > 64)
    throw UsageError(cat("hub chunk rows must be 16..64, got ", o.hub_chunk_rows));
  if (o.hub_threshold < 0) throw UsageError(cat("hub threshold must be >= 0, got ", o.hub_threshold));
}

void check_options(const CudaOptions& o) {
  if (o.device < 0) throw UsageError(cat("CUDA device must be >= 0, got ", o.device));
  if (o.backward_heads < 0) throw UsageError(cat("backward heads must be >= 0, got ", o.backward_heads));
}

}  // namespace

Context::Context(ContextOptions options) : options_(std::move(options)) {
  check_options(options_.cpu);
  check_options(options_.cuda);
  schedule_ = std::make_unique<const CudaSchedule>(parse_cuda_schedule(options_.cuda.schedule));
  isa_ = options_.cpu.isa ? *options_.cpu.isa : cpu_isa_best();
  threads_ = options_.cpu.threads > 0 ? options_.cpu.threads : tbb::this_task_arena::max_concurrency();
  if (options_.cpu.threads > 0) arena_ = std::make_unique<Arena>(options_.cpu.threads);
}

Context::~Context() = default;

bool Context::cpu_panels() const {
  if (options_.cpu.panels) return *options_.cpu.panels;
  // Measured per level (BENCHMARKS.md, "CPU levels"): at the generic level they make the forward
  // 3.4x slower; at avx2 (16 ymm) they won 6-10 % in eight alternating runs on a quiet machine;
  // at avx512 (32 zmm) 40 %.
  return isa_ != CpuIsa::generic;
}

std::string Context::cuda_schedule_text() const {
  return describe(*schedule_);
}

void Context::run(const std::function<void()>& f) const {
  // The scope inside: when other threads fill the arena's slots, TBB runs f on one of its workers.
  auto scoped = [&] {
    ContextScope scope(*this);
    f();
  };
  if (arena_)
    arena_->arena.execute(scoped);
  else
    scoped();
}

const Context& Context::process_default() {
  static const Context* ctx = new Context();  // never destroyed: primitives may run during exit
  return *ctx;
}

const Context& current_context() {
  return t_current != nullptr ? *t_current : Context::process_default();
}

ContextScope::ContextScope(const Context& ctx) : previous_(t_current) {
  t_current = &ctx;
}

ContextScope::~ContextScope() {
  t_current = previous_;
}

}  // namespace diffuser
