// Float64 references for the tests: dense masked softmax attention and dense matrix powers, plus
// random inputs and graphs. Deliberately plain loops: they define what the engine must compute.
#pragma once

#include <cstdint>
#include <vector>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/csr.hpp>

namespace diffuser::test {

// (n, h, d) float32 with standard normal entries, reproducible from `seed`.
Tensor3<float> random_tensor(std::int64_t n, std::int64_t h, std::int64_t d, std::uint64_t seed,
                             float scale = 1.0f);

// A random graph: each node gets `avg_degree` random sources (deduplicated), plus the listed hub
// rows (in-degree n) and with the listed rows left empty.
Csr random_graph(std::int64_t n, std::int64_t avg_degree, std::uint64_t seed,
                 std::vector<std::int32_t> hubs = {}, std::vector<std::int32_t> empty_rows = {});

// scores[e, h] = scale * q_dst . k_src in CSR order.
std::vector<double> ref_scores(const Csr& g, const Tensor3<float>& q, const Tensor3<float>& k, double scale);

// Dense attention matrices A[h][i][j] (h, n, n): masked softmax over each row's edges; a row with
// no unmasked edge is all zero. mask empty = all real.
std::vector<double> ref_dense_attention(const Csr& g, const Tensor3<float>& q, const Tensor3<float>& k,
                                        const std::vector<std::uint8_t>& mask, double scale);

// The per-edge weights (E, H) read off dense attention matrices.
std::vector<double> edge_values(const Csr& g, const std::vector<double>& dense, std::int64_t heads);

// Z = sum_k theta_k A^k V through explicit dense matrix powers (A^k formed by dense products).
std::vector<double> ref_dense_diffusion(const std::vector<double>& dense, std::int64_t n, std::int64_t heads,
                                        const Tensor3<float>& v, const std::vector<double>& theta);

// out[i, h, :] = sum_e w[e, h] x[src(e), h, :] in float64.
std::vector<double> ref_gather(const Csr& g, const std::vector<double>& w, const Tensor3<float>& x);

// ||x - ref|| / ||ref|| (or ||x - ref|| when ref is zero).
double rel_error(const float* x, const std::vector<double>& ref);
double rel_error(const std::vector<double>& x, const std::vector<double>& ref);
double rel_error(const std::vector<float>& x, const std::vector<float>& ref);
std::vector<double> to_double(const float* x, std::int64_t count);

}  // namespace diffuser::test
