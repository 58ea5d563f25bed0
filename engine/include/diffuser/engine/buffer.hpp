// Owning, device-tagged arrays. A Buffer<T> lives on one device; moving data between devices is
// always an explicit copy (to()), never implicit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <diffuser/engine/device.hpp>
#include <diffuser/engine/tensor.hpp>

namespace diffuser {

// Raw memory on a device. CPU memory is 64-byte aligned and not zeroed (pages are touched by
// whoever writes first, so untouched capacity costs no resident memory).
void* device_alloc(Device d, std::size_t bytes);
void device_free(Device d, void* p) noexcept;
void device_copy(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes);
void device_memset_zero(void* p, Device d, std::size_t bytes);

template <class T>
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::int64_t size, Device device = Device::cpu) : size_(size), device_(device) {
    if (size_ > 0) data_ = static_cast<T*>(device_alloc(device_, bytes()));
  }
  // Copies host values into a new buffer on `device`.
  static Buffer from_host(std::span<const T> values, Device device = Device::cpu) {
    Buffer b(static_cast<std::int64_t>(values.size()), device);
    if (!values.empty()) device_copy(b.data_, device, values.data(), Device::cpu, b.bytes());
    return b;
  }
  ~Buffer() { release(); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept : data_(o.data_), size_(o.size_), device_(o.device_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      release();
      data_ = o.data_;
      size_ = o.size_;
      device_ = o.device_;
      o.data_ = nullptr;
      o.size_ = 0;
    }
    return *this;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::int64_t size() const { return size_; }
  std::size_t bytes() const { return static_cast<std::size_t>(size_) * sizeof(T); }
  Device device() const { return device_; }
  bool empty() const { return size_ == 0; }

  Span<T> span() { return {data_, size_, device_}; }
  Span<const T> span() const { return {data_, size_, device_}; }

  // Host-only element access (asserts nothing about the device: callers keep CPU buffers here).
  T& operator[](std::int64_t i) { return data_[i]; }
  const T& operator[](std::int64_t i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

  Buffer to(Device device) const {
    Buffer b(size_, device);
    if (size_ > 0) device_copy(b.data_, device, data_, device_, bytes());
    return b;
  }
  std::vector<T> to_vector() const {
    std::vector<T> v(static_cast<std::size_t>(size_));
    if (size_ > 0) device_copy(v.data(), Device::cpu, data_, device_, bytes());
    return v;
  }
  void zero() {
    if (size_ > 0) device_memset_zero(data_, device_, bytes());
  }

 private:
  void release() noexcept {
    if (data_) device_free(device_, data_);
    data_ = nullptr;
  }
  T* data_ = nullptr;
  std::int64_t size_ = 0;
  Device device_ = Device::cpu;
};

// A (N, H, D) node-feature tensor that owns its memory, contiguous.
template <class T>
class Tensor3 {
 public:
  Tensor3() = default;
  Tensor3(std::int64_t n, std::int64_t h, std::int64_t d, Device device = Device::cpu)
      : buf_(n * h * d, device), n_(n), h_(h), d_(d) {}
  Tensor3(Buffer<T> buf, std::int64_t n, std::int64_t h, std::int64_t d)
      : buf_(std::move(buf)), n_(n), h_(h), d_(d) {}
  Tensor3View<T> view() { return {buf_.data(), n_, h_, d_, h_ * d_, d_, buf_.device()}; }
  Tensor3View<const T> view() const { return {buf_.data(), n_, h_, d_, h_ * d_, d_, buf_.device()}; }
  std::int64_t n() const { return n_; }
  std::int64_t h() const { return h_; }
  std::int64_t d() const { return d_; }
  Device device() const { return buf_.device(); }
  Buffer<T>& buffer() { return buf_; }
  const Buffer<T>& buffer() const { return buf_; }
  Tensor3 to(Device device) const { return Tensor3(buf_.to(device), n_, h_, d_); }

 private:
  Buffer<T> buf_;
  std::int64_t n_ = 0, h_ = 0, d_ = 0;
};

// A (rows, cols) row-major matrix that owns its memory; per-edge values are (E, H).
template <class T>
class Matrix {
 public:
  Matrix() = default;
  Matrix(std::int64_t rows, std::int64_t cols, Device device = Device::cpu)
      : buf_(rows * cols, device), rows_(rows), cols_(cols) {}
  MatrixView<T> view() { return {buf_.data(), rows_, cols_, buf_.device()}; }
  MatrixView<const T> view() const { return {buf_.data(), rows_, cols_, buf_.device()}; }
  std::int64_t rows() const { return rows_; }
  std::int64_t cols() const { return cols_; }
  Device device() const { return buf_.device(); }
  Buffer<T>& buffer() { return buf_; }
  const Buffer<T>& buffer() const { return buf_; }

 private:
  Buffer<T> buf_;
  std::int64_t rows_ = 0, cols_ = 0;
};

}  // namespace diffuser
