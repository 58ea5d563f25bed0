// Spectral view of a token graph under uniform attention: the second eigenvalue of P = D^-1 A
// (how fast repeated attention mixes), the normalized Laplacian gap of the symmetrized graph and
// the Ramanujan bound, all by sparse iterative methods (Krylov-Schur / thick-restart Lanczos).
#pragma once

#include <complex>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <diffuser/engine/csr.hpp>

namespace diffuser::diffusion {

// P = D^-1 A: row i spreads token i's attention equally over its sources (row i of the CSR), so
// every row sums to 1. A token with no sources attends to itself (P[i][i] = 1), as a row that
// sums to 0 would not be stochastic. P 1 = 1; lambda_2 is the eigenvalue of second-largest
// modulus (one copy of the eigenvalue 1 removed: P is deflated by 1 on the right, which needs
// no stationary vector), and spectral_gap = 1 - |lambda_2|.
//
// The symmetrized graph has the undirected edge {i, j} (i != j) for every edge j -> i or i -> j;
// self loops are dropped. Its normalized Laplacian L = I - D^-1/2 A_s D^-1/2 has eigenvalues in
// [0, 2]; lambda_2(L) > 0 exactly when the graph is connected (it is 0 otherwise, computed
// directly from the component count). A d-regular graph is Ramanujan when every nontrivial
// eigenvalue of D^-1/2 A_s D^-1/2 has modulus <= 2 sqrt(d - 1) / d.

struct SpectralOptions {
  double tol = 1e-10;                   // residual target of the Krylov iterations
  std::int64_t max_iterations = 20000;  // matrix-vector products per eigenvalue problem
  int krylov_dim = 48;                  // basis size between restarts
  std::uint64_t seed = 0;               // start vectors
  bool laplacian = true;                // also the symmetrized graph's Laplacian
  // Called after each eigenvalue problem ("transition", "laplacian-lambda2", "laplacian-max").
  std::function<void(const std::string& stage, std::int64_t iterations, double seconds)> progress;
};

struct EigenEstimate {
  double value = 0;             // real part, or modulus for lambda2 of P (see the fields)
  std::int64_t iterations = 0;  // matrix-vector products
  int restarts = 0;
  double residual = 0;  // ||M x - lambda x|| / ||x|| for the returned pair, computed afresh
  bool converged = false;
};

struct SpectralResult {
  std::int64_t nodes = 0, edges = 0;
  std::int64_t empty_rows = 0;  // given a self loop in P
  // P = D^-1 A
  std::complex<double> lambda2{0.0, 0.0};
  double lambda2_modulus = 0;
  double spectral_gap = 0;
  EigenEstimate transition;  // value = |lambda_2|
  // Symmetrized graph (when options.laplacian)
  bool has_laplacian = false;
  std::int64_t undirected_edges = 0;  // pairs {i, j}
  std::int64_t components = 0;        // connected components of the symmetrized graph
  double degree_min = 0, degree_mean = 0, degree_max = 0, degree_cv = 0;  // cv = std / mean
  bool near_regular = false;                                              // degree_cv <= kNearRegularCv
  EigenEstimate laplacian_lambda2;                                        // second-smallest eigenvalue of L
  // Largest eigenvalue of L and the largest nontrivial |eigenvalue| of D^-1/2 A_s D^-1/2,
  // max(|1 - lambda_2|, |1 - lambda_max|): computed only when near_regular (the Ramanujan case).
  bool has_lambda_max = false;
  EigenEstimate laplacian_lambda_max;
  double adjacency_nontrivial = 0;
  std::optional<double> ramanujan_bound;  // 2 sqrt(d - 1) / d with d = mean degree, when near regular
  double seconds = 0;
};

inline constexpr double kNearRegularCv = 0.1;

// Throws Error for a graph with fewer than 2 tokens.
SpectralResult spectral(const Csr& g, const SpectralOptions& options = {});

// The symmetrized simple graph described above, both directions stored.
Csr symmetrize(const Csr& g);

}  // namespace diffuser::diffusion
