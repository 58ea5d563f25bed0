// Where the package's engine calls run: the module's base context (built once at import from the
// environment, as the CLI does: engine/environment.hpp), or a context with the caller's thread
// count, and for CUDA tensors the caller's device, stream and allocator, on top of it. Engine calls
// run with the GIL released.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include <pybind11/pybind11.h>

#include <diffuser/engine/context.hpp>

namespace diffuser::python {

// Builds the base context from the environment (DIFFUSER_THREADS, DIFFUSER_CPU_ISA, ...). Called
// once by the module's initialisation; throws Error for a malformed variable.
void init_base_context();
const Context& base_context();

// Where a call on CUDA tensors runs: the tensors' device, the caller's stream (a cudaStream_t as an
// integer: PyTorch's current stream) and, optionally, the caller's allocator as two Python
// callables alloc(bytes, device, stream) -> pointer and free(pointer) (PyTorch's caching allocator:
// torch.cuda.caching_allocator_alloc / caching_allocator_delete), called with the GIL taken.
struct CudaCall {
  int device = 0;
  std::uintptr_t stream = 0;
  pybind11::object alloc, free;  // both unset or None: the engine's stream-ordered pool
};

// The base context's options with `threads` and `cuda` (its device, stream and allocator) on top.
ContextOptions engine_options(std::optional<int> threads, const std::optional<CudaCall>& cuda);

// Runs f in the base context, or with `threads` CPU threads (1..4096) when given, and on `cuda`
// when given, without the GIL. f must not touch Python objects.
void run_engine(std::optional<int> threads, const std::function<void()>& f);
void run_engine(std::optional<int> threads, const std::optional<CudaCall>& cuda,
                const std::function<void()>& f);

// Checks a `threads` argument: None or 1..4096 (the CLI's --threads range).
void check_threads(std::optional<int> threads);

}  // namespace diffuser::python
