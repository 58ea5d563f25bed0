#include "runtime.hpp"

#include <memory>
#include <utility>

#include <diffuser/engine/environment.hpp>
#include <diffuser/engine/error.hpp>

namespace diffuser::python {

namespace py = pybind11;

namespace {

// Set once at import, never changed (like the engine's own Context::process_default()).
const Context* g_base = nullptr;

// Whether Python can still be called: at interpreter exit memory that outlives the interpreter
// (plans kept with a graph) is left to the process's end rather than handed to a torn-down torch.
bool python_alive() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsInitialized() && !Py_IsFinalizing();
#else
  return Py_IsInitialized() && !_Py_IsFinalizing();
#endif
}

// The caller's allocator (PyTorch's caching allocator) behind the engine's DeviceAllocator: each
// call takes the GIL, which the engine call released; the engine allocates from the calling thread.
class PythonAllocator final : public DeviceAllocator {
 public:
  PythonAllocator(int device, py::object alloc, py::object free)
      : device_(device), alloc_(std::move(alloc)), free_(std::move(free)) {}
  ~PythonAllocator() override {
    if (!python_alive()) {  // no reference counting after the interpreter: leak the two references
      alloc_.release();
      free_.release();
      return;
    }
    py::gil_scoped_acquire gil;
    alloc_ = py::object();
    free_ = py::object();
  }
  void* allocate(std::size_t bytes, void* stream) override {
    py::gil_scoped_acquire gil;
    try {
      const auto p = alloc_(bytes, device_, reinterpret_cast<std::uintptr_t>(stream)).cast<std::uintptr_t>();
      if (p == 0) throw Error(cat("the caller's CUDA allocator returned null for ", bytes, " bytes"));
      return reinterpret_cast<void*>(p);
    } catch (const py::error_already_set& e) {
      throw Error(cat("the caller's CUDA allocator failed for ", bytes, " bytes: ", one_line(e.what())));
    }
  }
  void deallocate(void* p, std::size_t, void*) noexcept override {
    if (!python_alive()) return;
    py::gil_scoped_acquire gil;
    try {
      free_(reinterpret_cast<std::uintptr_t>(p));
    } catch (py::error_already_set& e) {
      e.discard_as_unraisable("diffuser: the caller's CUDA allocator could not free memory");
    }
  }

 private:
  int device_;
  py::object alloc_, free_;
};

}  // namespace

void init_base_context() {
  if (!g_base) g_base = new Context(context_options_from_environment());  // lives as long as the process
}

const Context& base_context() {
  return g_base ? *g_base : Context::process_default();
}

void check_threads(std::optional<int> threads) {
  if (threads && (*threads < 1 || *threads > 4096))
    throw Error(cat("threads must be in [1, 4096] (or None: every hardware thread), got ", *threads));
}

void run_engine(std::optional<int> threads, const std::function<void()>& f) {
  run_engine(threads, std::nullopt, f);
}

ContextOptions engine_options(std::optional<int> threads, const std::optional<CudaCall>& cuda) {
  ContextOptions o = base_context().options();
  if (threads) o.cpu.threads = *threads;
  if (cuda) {
    const auto given = [](const py::object& x) { return x && !x.is_none(); };
    if (given(cuda->alloc) != given(cuda->free))
      throw Error("a CUDA allocator needs both alloc and free (or neither)");
    o.cuda.device = cuda->device;
    o.cuda.stream = reinterpret_cast<void*>(cuda->stream);
    if (given(cuda->alloc))
      o.cuda.allocator = std::make_shared<PythonAllocator>(cuda->device, cuda->alloc, cuda->free);
  }
  return o;
}

void run_engine(std::optional<int> threads, const std::optional<CudaCall>& cuda,
                const std::function<void()>& f) {
  check_threads(threads);
  if (!threads && !cuda) {
    py::gil_scoped_release release;
    base_context().run(f);
    return;
  }
  const Context ctx(engine_options(threads, cuda));
  py::gil_scoped_release release;
  ctx.run(f);
}

}  // namespace diffuser::python
