// node_axpby, dtype conversion and the transpose of per-edge values on the GPU: elementwise passes
// over (N, H, D) views of any strides (contiguous views are one flat range).
#include "backend.hpp"
#include "dispatch.cuh"
#include "vec.cuh"

namespace diffuser::cuda {

namespace {

struct Shape {
  std::int64_t n, h, d;
};

template <class T>
struct View3 {
  T* data;
  std::int64_t sn, sh;
  __device__ T* at(std::int64_t flat, const Shape& s) const {
    const std::int64_t t = flat % s.d, rest = flat / s.d;
    return data + (rest / s.h) * sn + (rest % s.h) * sh + t;
  }
};

template <class T>
View3<T> view3(Tensor3View<T> v) {
  return {v.data, v.stride_n, v.stride_h};
}

__device__ __forceinline__ float get(const float* p) {
  return *p;
}
__device__ __forceinline__ float get(const bf16* p) {
  return __uint_as_float(static_cast<unsigned>(*reinterpret_cast<const unsigned short*>(p)) << 16);
}

template <class T>
__global__ void axpby_kernel(float a, View3<const T> x, float b, View3<const T> y, View3<T> out, Shape s,
                             std::int64_t total) {
  for (std::int64_t f = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; f < total;
       f += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    store1(out.at(f, s), a * get(x.at(f, s)) + b * get(y.at(f, s)));
}

template <class A, class B>
__global__ void convert_kernel(View3<const A> x, View3<B> out, Shape s, std::int64_t total) {
  for (std::int64_t f = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; f < total;
       f += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    store1(out.at(f, s), get(x.at(f, s)));
}

// 32 x 32 tiles through shared memory (padded against bank conflicts).
__global__ void transpose_kernel(const float* in, float* out, std::int64_t rows, std::int64_t cols,
                                 std::int64_t col_tiles) {
  __shared__ float tile[32][33];
  const std::int64_t tr = blockIdx.x / col_tiles, tc = blockIdx.x % col_tiles;
  const std::int64_t r0 = tr * 32, c0 = tc * 32;
  for (int k = threadIdx.y; k < 32; k += blockDim.y) {
    const std::int64_t r = r0 + k, c = c0 + threadIdx.x;
    if (r < rows && c < cols) tile[k][threadIdx.x] = in[r * cols + c];
  }
  __syncthreads();
  for (int k = threadIdx.y; k < 32; k += blockDim.y) {
    const std::int64_t c = c0 + k, r = r0 + threadIdx.x;
    if (r < rows && c < cols) out[c * rows + r] = tile[threadIdx.x][k];
  }
}

unsigned grid_for_total(std::int64_t total) {
  const std::int64_t blocks = (total + 255) / 256;
  const std::int64_t cap = static_cast<std::int64_t>(sm_count()) * 32;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

template <class T>
void axpby(float a, Tensor3View<const T> x, float b, Tensor3View<const T> y, Tensor3View<T> out) {
  const std::int64_t total = out.n * out.h * out.d;
  if (total == 0) return;
  axpby_kernel<T><<<grid_for_total(total), 256, 0, current_stream()>>>(a, view3(x), b, view3(y), view3(out),
                                                                       Shape{out.n, out.h, out.d}, total);
  DIFFUSER_CUDA_LAUNCHED("axpby_kernel");
}

template <class A, class B>
void convert_any(Tensor3View<const A> x, Tensor3View<B> out) {
  const std::int64_t total = x.n * x.h * x.d;
  if (total == 0) return;
  convert_kernel<A, B><<<grid_for_total(total), 256, 0, current_stream()>>>(view3(x), view3(out),
                                                                            Shape{x.n, x.h, x.d}, total);
  DIFFUSER_CUDA_LAUNCHED("convert_kernel");
}

}  // namespace

void node_axpby(float a, Tensor3View<const float> x, float b, Tensor3View<const float> y,
                Tensor3View<float> out) {
  axpby(a, x, b, y, out);
}
void node_axpby(float a, Tensor3View<const bf16> x, float b, Tensor3View<const bf16> y,
                Tensor3View<bf16> out) {
  axpby(a, x, b, y, out);
}
void convert(Tensor3View<const float> x, Tensor3View<bf16> out) {
  convert_any(x, out);
}
void convert(Tensor3View<const bf16> x, Tensor3View<float> out) {
  convert_any(x, out);
}

void transpose(MatrixView<const float> in, MatrixView<float> out) {
  const std::int64_t row_tiles = (in.rows + 31) / 32, col_tiles = (in.cols + 31) / 32;
  const std::int64_t blocks = row_tiles * col_tiles;
  DIFFUSER_CHECK(blocks < (std::int64_t{1} << 31), "transpose: matrix too large");
  transpose_kernel<<<static_cast<unsigned>(blocks), dim3(32, 8), 0, current_stream()>>>(
      in.data, out.data, in.rows, in.cols, col_tiles);
  DIFFUSER_CUDA_LAUNCHED("transpose_kernel");
}

}  // namespace diffuser::cuda
