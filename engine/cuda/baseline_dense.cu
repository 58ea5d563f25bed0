// The dense cuBLAS baseline (baselines.hpp): masked dense attention, as the peers script's `dense`.
// Per head S = Q K^T (N x N) by strided-batched SGEMM straight from the (N, H, D) layout
// (leading dimension H*D), a masked softmax per row (entries off the graph become 0), then per hop
// Z' = (1 - alpha) S Z + alpha V by one strided-batched SGEMM onto a copy of V. FP32 math (no TF32).
#include <cublas_v2.h>
#include <cmath>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/error.hpp>

#include "backend.hpp"
#include "baseline_common.cuh"
#include "dispatch.cuh"
#include "vec.cuh"

#define DIFFUSER_CUBLAS_CHECK(call)                                                                        \
  do {                                                                                                     \
    const cublasStatus_t s_ = (call);                                                                      \
    if (s_ != CUBLAS_STATUS_SUCCESS)                                                                       \
      throw ::diffuser::Error(::diffuser::cat("cuBLAS error ", cublasGetStatusString(s_), " in ", #call)); \
  } while (0)

namespace diffuser::cuda {

namespace {

// CTA per (head, row): the row's scores at its graph edges are read into shared memory, the
// whole dense row is zeroed, then the normalised weights are written back at the edges.
__global__ void masked_softmax(float* s, const std::int64_t* row_ptr, const std::int32_t* col,
                               std::int64_t n) {
  extern __shared__ float buf[];
  const std::int64_t h = blockIdx.x / n, i = blockIdx.x % n;
  float* row = s + (h * n + i) * n;
  const std::int64_t b = row_ptr[i], deg = row_ptr[i + 1] - b;
  __shared__ float red_m[32], red_s[32];
  SoftmaxState st{-INFINITY, 0.0f};
  for (std::int64_t k = threadIdx.x; k < deg; k += blockDim.x) {
    const float v = row[col[b + k]];
    buf[k] = v;
    softmax_add(st, v);
  }
#pragma unroll
  for (int off = 1; off < 32; off <<= 1)
    st =
        softmax_merge(st, SoftmaxState{__shfl_xor_sync(kFull, st.m, off), __shfl_xor_sync(kFull, st.s, off)});
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  if (lane == 0) {
    red_m[warp] = st.m;
    red_s[warp] = st.s;
  }
  __syncthreads();
  SoftmaxState all{-INFINITY, 0.0f};
  for (int w = 0; w < warps; ++w) all = softmax_merge(all, SoftmaxState{red_m[w], red_s[w]});
  for (std::int64_t j = threadIdx.x; j < n; j += blockDim.x) row[j] = 0.0f;
  __syncthreads();
  const float inv = all.s > 0.0f ? 1.0f / all.s : 0.0f;
  for (std::int64_t k = threadIdx.x; k < deg; k += blockDim.x) row[col[b + k]] = expf(buf[k] - all.m) * inv;
}

}  // namespace

baselines::Timing dense_forward(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                                Tensor3View<const float> v, int hops, float alpha, Tensor3View<float> out,
                                int reps, std::int64_t max_n) {
  const std::int64_t n = g.num_nodes(), heads = q.h, d = q.d;
  DIFFUSER_CHECK(n <= max_n, "dense baseline: N = ", n, " above ", max_n);
  const std::int64_t base = bytes_in_use();
  reset_peak_bytes();
  baselines::Timing t;
  {
    std::int64_t max_deg = 0;
    {
      const auto rp = g.row_ptr().to_vector();
      for (std::int64_t i = 0; i < n; ++i) max_deg = std::max(max_deg, rp[i + 1] - rp[i]);
    }
    const std::size_t smem = static_cast<std::size_t>(std::max<std::int64_t>(max_deg, 1)) * sizeof(float);
    DIFFUSER_CHECK(smem <= 200 * 1024, "dense baseline: a row of degree ", max_deg,
                   " needs too much shared memory");
    DIFFUSER_CUDA_CHECK(cudaFuncSetAttribute(masked_softmax, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(smem)));
    Buffer<float> s(heads * n * n, Device::cuda), z(n * heads * d, Device::cuda);
    cublasHandle_t handle = nullptr;
    DIFFUSER_CUBLAS_CHECK(cublasCreate(&handle));
    struct Guard {
      cublasHandle_t h;
      ~Guard() { cublasDestroy(h); }
    } guard{handle};
    DIFFUSER_CUBLAS_CHECK(cublasSetStream(handle, current_stream()));
    DIFFUSER_CUBLAS_CHECK(cublasSetMathMode(handle, CUBLAS_PEDANTIC_MATH));
    const int N = static_cast<int>(n), Dm = static_cast<int>(d), ld = static_cast<int>(heads * d);
    const int batch = static_cast<int>(heads);
    const float scale = 1.0f / std::sqrt(static_cast<float>(d)), zero = 0.0f, one = 1.0f, keep = 1.0f - alpha;
    const std::size_t node_bytes = static_cast<std::size_t>(n * heads * d) * sizeof(float);

    auto scores = [&] {
      DIFFUSER_CUBLAS_CHECK(cublasSgemmStridedBatched(handle, CUBLAS_OP_T, CUBLAS_OP_N, N, N, Dm, &scale,
                                                      k.data, ld, d, q.data, ld, d, &zero, s.data(), N, n * n,
                                                      batch));
    };
    auto softmax = [&] {
      masked_softmax<<<static_cast<unsigned>(heads * n), 256, smem, current_stream()>>>(
          s.data(), g.row_ptr().data(), g.col().data(), n);
      DIFFUSER_CUDA_LAUNCHED("masked_softmax");
    };
    // Hop kk reads V (kk == 1) or the previous result and writes `out` or `z` so the last hop
    // lands in `out`.
    auto hop = [&](int kk) {
      const float* src = kk == 1 ? v.data : (((hops - kk + 1) % 2 == 0) ? out.data : z.data());
      float* dst = ((hops - kk) % 2 == 0) ? out.data : z.data();
      DIFFUSER_CUDA_CHECK(
          cudaMemcpyAsync(dst, v.data, node_bytes, cudaMemcpyDeviceToDevice, current_stream()));
      DIFFUSER_CUBLAS_CHECK(cublasSgemmStridedBatched(handle, CUBLAS_OP_N, CUBLAS_OP_N, Dm, N, N, &keep, src,
                                                      ld, d, s.data(), N, n * n, &alpha, dst, ld, d, batch));
    };
    auto plain = [&] {
      DIFFUSER_CUBLAS_CHECK(cublasSgemmStridedBatched(handle, CUBLAS_OP_N, CUBLAS_OP_N, Dm, N, N, &one,
                                                      v.data, ld, d, s.data(), N, n * n, &zero, out.data, ld,
                                                      d, batch));
    };
    auto forward = [&] {
      scores();
      softmax();
      if (hops == 0) plain();
      for (int kk = 1; kk <= hops; ++kk) hop(kk);
    };
    t.scores_ms = median_ms(reps, scores);
    {
      std::vector<double> ts;
      for (int r = 0; r <= reps; ++r) {
        scores();
        DIFFUSER_CUDA_CHECK(cudaDeviceSynchronize());
        Stopwatch sw;
        softmax();
        DIFFUSER_CUDA_CHECK(cudaDeviceSynchronize());
        if (r > 0) ts.push_back(sw.ms());
      }
      std::sort(ts.begin(), ts.end());
      t.softmax_ms = ts[ts.size() / 2];
    }
    t.hop_ms = median_ms(reps, [&] {
      if (hops == 0)
        plain();
      else
        hop(1);
    });
    t.total_ms = median_ms(reps, forward);
    DIFFUSER_CUDA_CHECK(cudaDeviceSynchronize());
  }
  t.peak_bytes = peak_bytes() - base;
  return t;
}

}  // namespace diffuser::cuda
