// The transposed gather on the GPU: one warp per (reverse row j, head h); the per-edge weight is
// read through the edge permutation when there is one. Head sizes 16, 32, 64, 128 take the fast
// gather of backward_gather.cuh, others the generic kernel below (lanes across D, one edge per
// iteration). Each output row has one writer (hub rows: partials added in a fixed order).
#include "backward_backend.hpp"
#include "backward_common.cuh"
#include "backward_gather.cuh"

namespace diffuser::cuda::grad {

namespace {

template <int P>
__global__ void scatter_kernel(const std::int64_t* __restrict__ row_ptr, const std::int32_t* __restrict__ col,
                               const std::int64_t* __restrict__ perm, std::int64_t n, std::int64_t H,
                               std::int64_t D, const float* __restrict__ w, float a,
                               const float* __restrict__ y, std::int64_t y_sn, std::int64_t y_sh, float b,
                               const float* z, std::int64_t z_sn, std::int64_t z_sh, float* out,
                               std::int64_t o_sn, std::int64_t o_sh) {
  const std::int64_t item = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (item >= n * H) return;
  const std::int64_t j = item / H, h = item % H;
  float acc[P];
#pragma unroll
  for (int r = 0; r < P; ++r) acc[r] = 0.0f;
  for (std::int64_t t = row_ptr[j]; t < row_ptr[j + 1]; ++t) {
    const float wv = w[(perm ? perm[t] : t) * H + h];
    const float* yr = y + col[t] * y_sn + h * y_sh;
#pragma unroll
    for (int r = 0; r < P; ++r) {
      const std::int64_t d = lane + 32 * r;
      if (d < D) acc[r] += wv * yr[d];
    }
  }
  float* o = out + j * o_sn + h * o_sh;
  const float* zr = b != 0.0f ? z + j * z_sn + h * z_sh : nullptr;
#pragma unroll
  for (int r = 0; r < P; ++r) {
    const std::int64_t d = lane + 32 * r;
    if (d < D) o[d] = a * acc[r] + (zr ? b * zr[d] : 0.0f);
  }
}

__global__ void permute_kernel(const std::int64_t* __restrict__ perm, std::int64_t E, std::int64_t H,
                               const float* __restrict__ in, float* __restrict__ out, bool inverse) {
  const std::int64_t f = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;  // t * H + h
  if (f >= E * H) return;
  const std::int64_t t = f / H, h = f % H;
  if (inverse)
    out[perm[t] * H + h] = in[f];
  else
    out[f] = in[perm[t] * H + h];
}

}  // namespace

void permute_edges(const ReverseView& rg, MatrixView<const float> in, MatrixView<float> out, bool inverse) {
  const std::int64_t count = in.rows * in.cols;
  permute_kernel<<<blocks_for(count, 256), 256, 0, current_stream()>>>(rg.perm, in.rows, in.cols, in.data,
                                                                       out.data, inverse);
  DIFFUSER_CUDA_LAUNCHED("permute_kernel");
}

void scatter_axpby(const ReverseView& rg, MatrixView<const float> w, float a, Tensor3View<const float> y,
                   float b, Tensor3View<const float> z, Tensor3View<float> out) {
  check_head_dim("scatter_axpby", y.d);
  const std::int64_t items = rg.t.n * y.h;
  if (items == 0) return;
  if (gather_fast_dim(y.d) && gather_fast_view(y.data, y.stride_n, y.stride_h, y.d) &&
      gather_fast_view(out.data, out.stride_n, out.stride_h, y.d) &&
      (b == 0.0f || gather_fast_view(z.data, z.stride_n, z.stride_h, y.d))) {
    GatherArgs g;
    g.row_ptr = rg.t.row_ptr;
    g.col = rg.t.col;
    g.perm = rg.perm;
    g.n = rg.t.n;
    g.H = static_cast<int>(y.h);
    g.D = static_cast<int>(y.d);
    g.w = w.data;
    g.src = y.data;
    g.s_sn = y.stride_n;
    g.s_sh = y.stride_h;
    g.a = a;
    g.c = b;
    g.y = z.data;
    g.y_sn = z.stride_n;
    g.y_sh = z.stride_h;
    g.out = out.data;
    g.o_sn = out.stride_n;
    g.o_sh = out.stride_h;
    launch_gather<false, false>(rg.t, g);
    return;
  }
  dispatch_per_lane(y.d, [&]<int P>() {
    scatter_kernel<P><<<warp_blocks(items), kBwdThreads, 0, current_stream()>>>(
        rg.t.row_ptr, rg.t.col, rg.perm, rg.t.n, y.h, y.d, w.data, a, y.data, y.stride_n, y.stride_h, b,
        z.data, z.stride_n, z.stride_h, out.data, out.stride_n, out.stride_h);
    DIFFUSER_CUDA_LAUNCHED("scatter_kernel");
  });
}

}  // namespace diffuser::cuda::grad
