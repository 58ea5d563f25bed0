// Non-owning views over device memory: pointer, shape, strides and the device it lives on.
// The engine's primitives take views; owners are Buffer, Tensor3 and Matrix (buffer.hpp).
#pragma once

#include <cstdint>
#include <type_traits>

#include <diffuser/engine/device.hpp>

namespace diffuser {

template <class T>
struct Span {
  T* data = nullptr;
  std::int64_t size = 0;
  Device device = Device::cpu;

  bool empty() const { return size == 0; }
  operator Span<const T>() const requires(!std::is_const_v<T>) { return {data, size, device}; }
};

// Node features (N, H, D): element (i, h, x) at data[i*stride_n + h*stride_h + x]. D is always
// contiguous; strides let a view pick Q, K or V out of a packed (N, 3, H, D) projection.
template <class T>
struct Tensor3View {
  T* data = nullptr;
  std::int64_t n = 0, h = 0, d = 0;
  std::int64_t stride_n = 0, stride_h = 0;
  Device device = Device::cpu;

  T* row(std::int64_t i) const { return data + i * stride_n; }
  T* at(std::int64_t i, std::int64_t head) const { return data + i * stride_n + head * stride_h; }
  bool contiguous() const { return stride_h == d && stride_n == h * d; }
  std::int64_t numel() const { return n * h * d; }
  operator Tensor3View<const T>() const requires(!std::is_const_v<T>) {
    return {data, n, h, d, stride_n, stride_h, device};
  }
};

// A contiguous view of an (N, H, D) array.
template <class T>
Tensor3View<T> tensor3_view(T* data, std::int64_t n, std::int64_t h, std::int64_t d,
                            Device device = Device::cpu) {
  return {data, n, h, d, h * d, d, device};
}

// Row-major (rows, cols); per-edge values use rows = E (CSR order), cols = H.
template <class T>
struct MatrixView {
  T* data = nullptr;
  std::int64_t rows = 0, cols = 0;
  Device device = Device::cpu;

  T* row(std::int64_t r) const { return data + r * cols; }
  operator MatrixView<const T>() const requires(!std::is_const_v<T>) { return {data, rows, cols, device}; }
};

}  // namespace diffuser
