// The cuSPARSE baseline (baselines.hpp): what a user assembles from the vendor library, as the
// peers script does through torch.sparse. Heads are stacked block-diagonally into one
// (H*N, H*N) CSR; Q, K, V are permuted to (H, N, D); cusparseSDDMM gives the scores, a
// segmented softmax kernel normalises them, and each hop is one cusparseSpMM with beta = alpha
// onto a copy of V.
#include <cusparse.h>
#include <cmath>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/error.hpp>

#include "backend.hpp"
#include "baseline_common.cuh"
#include "dispatch.cuh"
#include "vec.cuh"

#define DIFFUSER_CUSPARSE_CHECK(call)                                                     \
  do {                                                                                    \
    const cusparseStatus_t s_ = (call);                                                   \
    if (s_ != CUSPARSE_STATUS_SUCCESS)                                                    \
      throw ::diffuser::Error(                                                            \
          ::diffuser::cat("cuSPARSE error ", cusparseGetErrorString(s_), " in ", #call)); \
  } while (0)

namespace diffuser::cuda {

namespace {

// Row (h, i) of the block-diagonal matrix holds row i of the graph shifted by h*N columns.
__global__ void block_diagonal(const std::int64_t* row_ptr, const std::int32_t* col, std::int64_t n,
                               std::int64_t e, int heads, std::int32_t* bd_ptr, std::int32_t* bd_col) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t t = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; t < heads * e;
       t += stride) {
    const std::int64_t h = t / e, k = t % e;
    bd_col[t] = static_cast<std::int32_t>(h * n + col[k]);
  }
  for (std::int64_t t = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; t <= heads * n;
       t += stride) {
    const std::int64_t h = t / n, i = t % n;
    bd_ptr[t] = static_cast<std::int32_t>(t == heads * n ? heads * e : h * e + row_ptr[i]);
  }
}

// (N, H, D) <-> (H, N, D).
__global__ void permute(const float* in, float* out, std::int64_t n, int heads, int d, bool to_head_major) {
  const std::int64_t total = n * heads * d, stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t t = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += stride) {
    const std::int64_t f = t % d, rest = t / d, h = rest % heads, i = rest / heads;  // t indexes (N, H, D)
    const std::int64_t hm = (h * n + i) * d + f;
    if (to_head_major)
      out[hm] = in[t];
    else
      out[t] = in[hm];
  }
}

// Softmax of every row of a CSR in place: one warp per row.
__global__ void segmented_softmax(const std::int32_t* ptr, float* vals, std::int64_t rows) {
  const std::int64_t row = (blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const std::int64_t b = ptr[row], e = ptr[row + 1];
  SoftmaxState st{-INFINITY, 0.0f};
  for (std::int64_t k = b + lane; k < e; k += 32) softmax_add(st, vals[k]);
#pragma unroll
  for (int off = 1; off < 32; off <<= 1)
    st =
        softmax_merge(st, SoftmaxState{__shfl_xor_sync(kFull, st.m, off), __shfl_xor_sync(kFull, st.s, off)});
  const float inv = st.s > 0.0f ? 1.0f / st.s : 0.0f;
  for (std::int64_t k = b + lane; k < e; k += 32) vals[k] = expf(vals[k] - st.m) * inv;
}

unsigned grid_of(std::int64_t items) {
  const std::int64_t b = (items + 255) / 256, cap = static_cast<std::int64_t>(sm_count()) * 32;
  return static_cast<unsigned>(b < 1 ? 1 : (b > cap ? cap : b));
}

struct Handles {
  cusparseHandle_t h = nullptr;
  cusparseSpMatDescr_t s = nullptr;
  cusparseDnMatDescr_t q = nullptr, k = nullptr, v = nullptr, z[2] = {nullptr, nullptr};
  ~Handles() {
    for (auto* d : {q, k, v, z[0], z[1]})
      if (d) cusparseDestroyDnMat(d);
    if (s) cusparseDestroySpMat(s);
    if (h) cusparseDestroy(h);
  }
};

}  // namespace

baselines::Timing cusparse_forward(const Csr& g, Tensor3View<const float> q, Tensor3View<const float> k,
                                   Tensor3View<const float> v, int hops, float alpha, Tensor3View<float> out,
                                   int reps) {
  const std::int64_t n = g.num_nodes(), e = g.num_edges(), heads = q.h, d = q.d;
  DIFFUSER_CHECK(heads * e < INT32_MAX && heads * n < INT32_MAX, "cuSPARSE baseline: H*E = ", heads * e,
                 " does not fit the 32-bit indices it uses");
  const std::int64_t base = bytes_in_use();
  reset_peak_bytes();
  baselines::Timing t;
  {
    Buffer<std::int32_t> bd_ptr(heads * n + 1, Device::cuda), bd_col(heads * e, Device::cuda);
    Buffer<float> vals(heads * e, Device::cuda);
    Buffer<float> qh(n * heads * d, Device::cuda), kh(n * heads * d, Device::cuda),
        vh(n * heads * d, Device::cuda);
    Buffer<float> z[2] = {Buffer<float>(n * heads * d, Device::cuda),
                          Buffer<float>(n * heads * d, Device::cuda)};
    block_diagonal<<<grid_of(heads * e), 256, 0, current_stream()>>>(
        g.row_ptr().data(), g.col().data(), n, e, static_cast<int>(heads), bd_ptr.data(), bd_col.data());
    DIFFUSER_CUDA_LAUNCHED("block_diagonal");

    Handles hd;
    const std::int64_t rows = heads * n;
    DIFFUSER_CUSPARSE_CHECK(cusparseCreate(&hd.h));
    DIFFUSER_CUSPARSE_CHECK(cusparseSetStream(hd.h, current_stream()));
    DIFFUSER_CUSPARSE_CHECK(cusparseCreateCsr(&hd.s, rows, rows, heads * e, bd_ptr.data(), bd_col.data(),
                                              vals.data(), CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I,
                                              CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));
    DIFFUSER_CUSPARSE_CHECK(
        cusparseCreateDnMat(&hd.q, rows, d, d, qh.data(), CUDA_R_32F, CUSPARSE_ORDER_ROW));
    DIFFUSER_CUSPARSE_CHECK(
        cusparseCreateDnMat(&hd.k, rows, d, d, kh.data(), CUDA_R_32F, CUSPARSE_ORDER_ROW));
    DIFFUSER_CUSPARSE_CHECK(
        cusparseCreateDnMat(&hd.v, rows, d, d, vh.data(), CUDA_R_32F, CUSPARSE_ORDER_ROW));
    for (int b = 0; b < 2; ++b)
      DIFFUSER_CUSPARSE_CHECK(
          cusparseCreateDnMat(&hd.z[b], rows, d, d, z[b].data(), CUDA_R_32F, CUSPARSE_ORDER_ROW));

    const float scale = 1.0f / std::sqrt(static_cast<float>(d)), zero = 0.0f, one = 1.0f;
    const float keep = 1.0f - alpha;
    std::size_t sddmm_bytes = 0, spmm_bytes = 0;
    DIFFUSER_CUSPARSE_CHECK(cusparseSDDMM_bufferSize(
        hd.h, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_TRANSPOSE, &scale, hd.q, hd.k, &zero, hd.s,
        CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT, &sddmm_bytes));
    DIFFUSER_CUSPARSE_CHECK(cusparseSpMM_bufferSize(
        hd.h, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &keep, hd.s, hd.v, &alpha,
        hd.z[0], CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, &spmm_bytes));
    Buffer<char> sddmm_buf(static_cast<std::int64_t>(sddmm_bytes) + 16, Device::cuda);
    Buffer<char> spmm_buf(static_cast<std::int64_t>(spmm_bytes) + 16, Device::cuda);
    DIFFUSER_CUSPARSE_CHECK(cusparseSDDMM_preprocess(
        hd.h, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_TRANSPOSE, &scale, hd.q, hd.k, &zero, hd.s,
        CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT, sddmm_buf.data()));

    const std::size_t node_bytes = static_cast<std::size_t>(n * heads * d) * sizeof(float);
    auto scores = [&] {
      permute<<<grid_of(n * heads * d), 256, 0, current_stream()>>>(
          q.data, qh.data(), n, static_cast<int>(heads), static_cast<int>(d), true);
      permute<<<grid_of(n * heads * d), 256, 0, current_stream()>>>(
          k.data, kh.data(), n, static_cast<int>(heads), static_cast<int>(d), true);
      permute<<<grid_of(n * heads * d), 256, 0, current_stream()>>>(
          v.data, vh.data(), n, static_cast<int>(heads), static_cast<int>(d), true);
      DIFFUSER_CUDA_LAUNCHED("permute");
      DIFFUSER_CUSPARSE_CHECK(cusparseSDDMM(hd.h, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                            CUSPARSE_OPERATION_TRANSPOSE, &scale, hd.q, hd.k, &zero, hd.s,
                                            CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT, sddmm_buf.data()));
    };
    auto softmax = [&] {
      segmented_softmax<<<blocks_for(rows * 32, 256), 256, 0, current_stream()>>>(bd_ptr.data(), vals.data(),
                                                                                  rows);
      DIFFUSER_CUDA_LAUNCHED("segmented_softmax");
    };
    int last = 0;
    auto hop = [&](int kk) {  // hop kk (1-based) reads z[(kk) % 2] or V, writes z[(kk + 1) % 2]
      cusparseDnMatDescr_t src = kk == 1 ? hd.v : hd.z[kk % 2];
      const int dst = (kk + 1) % 2;
      DIFFUSER_CUDA_CHECK(
          cudaMemcpyAsync(z[dst].data(), vh.data(), node_bytes, cudaMemcpyDeviceToDevice, current_stream()));
      DIFFUSER_CUSPARSE_CHECK(
          cusparseSpMM(hd.h, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &keep, hd.s,
                       src, &alpha, hd.z[dst], CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, spmm_buf.data()));
      last = dst;
    };
    auto plain = [&] {  // K = 0: Z = A V
      DIFFUSER_CUSPARSE_CHECK(cusparseSpMM(hd.h, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                           CUSPARSE_OPERATION_NON_TRANSPOSE, &one, hd.s, hd.v, &zero, hd.z[0],
                                           CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, spmm_buf.data()));
      last = 0;
    };
    auto finish = [&] {
      permute<<<grid_of(n * heads * d), 256, 0, current_stream()>>>(
          z[last].data(), out.data, n, static_cast<int>(heads), static_cast<int>(d), false);
      DIFFUSER_CUDA_LAUNCHED("permute");
    };
    auto forward = [&] {
      scores();
      softmax();
      if (hops == 0) plain();
      for (int kk = 1; kk <= hops; ++kk) hop(kk);
      finish();
    };
    t.scores_ms = median_ms(reps, scores);
    // The softmax works in place: fresh scores before each run, outside the timed region.
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
    t.hop_ms = hops > 0 ? median_ms(reps, [&] { hop(1); }) : median_ms(reps, plain);
    t.total_ms = median_ms(reps, forward);
    DIFFUSER_CUDA_CHECK(cudaDeviceSynchronize());
  }
  t.peak_bytes = peak_bytes() - base;
  return t;
}

}  // namespace diffuser::cuda
