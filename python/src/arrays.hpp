// Arrays from Python without copies: NumPy arrays (anything with the buffer protocol) through PEP
// 3118 buffers, torch tensors (anything with __dlpack__) through DLPack capsules. An ArrayRef
// keeps the buffer or capsule alive while the engine reads or writes the memory, so the GIL can
// be released once all arguments are parsed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <pybind11/pybind11.h>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/tensor.hpp>

namespace diffuser::python {

namespace py = pybind11;

enum class Kind { floating, bfloat, signed_int, unsigned_int, boolean, other };

struct ArrayRef {
  std::string name;  // the argument, for messages ("q", "mask")
  void* data = nullptr;
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> byte_strides;
  std::int64_t itemsize = 0;
  Kind kind = Kind::other;
  std::string dtype;        // "float32", "int64", ... for messages
  std::string device_text;  // "cpu", "cuda:0"
  bool on_cpu = true;
  int cuda_device = -1;        // the CUDA device index of CUDA memory
  std::shared_ptr<void> keep;  // the Py_buffer or the capsule

  Device device() const { return on_cpu ? Device::cpu : Device::cuda; }

  int ndim() const { return static_cast<int>(shape.size()); }
  std::string shape_text() const;
  std::int64_t numel() const;
};

// Reads `obj` (named `name` in errors): the buffer protocol first, else __dlpack__. `writable`
// asks for a writable buffer (outputs). Host memory and CUDA device memory are taken (CUDA
// tensors are exported with stream -1: the engine runs on the caller's stream, docs/PYTHON.md);
// anything else throws Error.
ArrayRef array_ref(py::handle obj, const char* name, bool writable = false);

// An (N, H, D) float32 input as the engine's view: zero-copy when D is contiguous and the rows
// and heads do not interleave (any N and H strides the engine accepts, e.g. q, k, v as views
// into one (N, 3, H, D) array); otherwise one contiguous copy, kept in `copy` (host memory only:
// a CUDA tensor in another layout is an error, the Python side makes it contiguous first).
struct Features {
  Tensor3View<const float> view;
  Tensor3<float> copy;
  bool copied = false;
};
Features features(const ArrayRef& a);
// features() of host memory only (the analysis and the pictures run on the CPU).
Features host_features(const ArrayRef& a);
// An (N, H, D) float32 output we allocated (contiguous) or the caller gave: written in place.
Tensor3View<float> output_features(const ArrayRef& a, std::int64_t n, std::int64_t h, std::int64_t d);
// An (rows, cols) contiguous float32 output.
MatrixView<float> output_matrix(const ArrayRef& a, std::int64_t rows, std::int64_t cols);

// Host memory only (masks, edge ids): a clear error for device memory.
void require_host(const ArrayRef& a);

// A padding mask: a 1-D integer or bool array of n values, as one byte a token (nonzero = real).
Buffer<std::uint8_t> mask_bytes(const ArrayRef& a, std::int64_t n);

// A 1-D integer array as int64 values (edge ids); floats and bools are refused.
std::vector<std::int64_t> index_values(const ArrayRef& a);

// "(4, 5, 6)"
std::string shape_text(const std::vector<std::int64_t>& shape);

}  // namespace diffuser::python
