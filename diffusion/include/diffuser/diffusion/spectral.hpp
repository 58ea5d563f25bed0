// Spectral view of a token graph under uniform attention: the second eigenvalue of P = D^-1 A
// (how fast repeated attention mixes) with how far it can be trusted, the normalized Laplacian
// gap of the symmetrized graph and the Ramanujan bound, by Spectra's sparse iterative solvers
// (dense Eigen decompositions for small blocks), and a mixing profile that stays meaningful when
// P is far from normal (mixing.hpp).
#pragma once

#include <complex>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <diffuser/diffusion/mixing.hpp>
#include <diffuser/engine/csr.hpp>

namespace diffuser::diffusion {

// P = D^-1 A: row i spreads token i's attention equally over its sources (row i of the CSR), so
// every row sums to 1. A token with no sources attends to itself (P[i][i] = 1), as a row that
// sums to 0 would not be stochastic. P 1 = 1; lambda_2 is the eigenvalue of second-largest
// modulus (one copy of the eigenvalue 1 removed), and spectral_gap = 1 - |lambda_2|.
//
// How lambda_2 is found. Ordered by its strongly connected components (tokens that reach each
// other along edges), P is block triangular, so its eigenvalues are those of the diagonal blocks
// P_CC: a single token gives its diagonal entry exactly (a causal window is all single tokens:
// its eigenvalues are 1/deg(i)); blocks up to `dense_limit` tokens are decomposed densely
// (Eigen); larger ones by implicitly restarted Lanczos (a symmetric block, through the similar
// matrix D^-1/2 A D^-1/2) or Arnoldi (otherwise; Spectra). A closed block (no token in it attends
// outside it) has the eigenvalue 1 exactly; it is deflated (P_CC restricted to mean-zero vectors).
//
// How far to trust it. Eigenvalues of a non-normal matrix can be extremely sensitive: a
// perturbation of size e (rounding, or the solver's residual) may move them by kappa * e, where
// kappa = ||x|| ||y|| / |y^H x| (x, y: right and left eigenvectors) is the eigenvalue's condition
// number. For a non-symmetric block the left eigenvector is computed by a second, independent
// Arnoldi run on P_CC^T; lambda_2 is reported as unreliable when the two runs disagree or when
// kappa * max(residuals, 1e-15) exceeds kUnreliableError. A converged residual then means
// nothing: the value lies in the pseudospectrum, not necessarily near an eigenvalue. The mixing
// profile (total-variation distance of k-hop attention, mixing.hpp) measures mixing directly.
//
// The symmetrized graph has the undirected edge {i, j} (i != j) for every edge j -> i or i -> j;
// self loops are dropped. Its normalized Laplacian L = I - D^-1/2 A_s D^-1/2 has eigenvalues in
// [0, 2]; lambda_2(L) > 0 exactly when the graph is connected (it is 0 otherwise, computed
// directly from the component count). A d-regular graph is Ramanujan when every nontrivial
// eigenvalue of D^-1/2 A_s D^-1/2 has modulus <= 2 sqrt(d - 1) / d.

inline constexpr double kUnreliableError = 1e-4;

// Reported while the analysis runs: the stage ("transition", "transition-left", "laplacian-lambda2",
// "laplacian-max", "mixing"), products so far in it, and whether it just finished.
struct SpectralProgress {
  std::string stage;
  std::int64_t products = 0;
  bool done = false;
  double seconds = 0;
};

struct SpectralOptions {
  double tol = 1e-10;                   // Spectra's relative residual target
  std::int64_t max_iterations = 20000;  // matrix-vector products per eigenvalue problem
  int krylov_dim = 48;                  // basis size between restarts
  std::uint64_t seed = 0;               // start vectors and the mixing profile's sample
  bool laplacian = true;                // also the symmetrized graph's Laplacian
  std::int64_t dense_limit = 128;       // blocks up to this many tokens are decomposed densely
  int mixing_hops = 16;                 // hops of the mixing profile (0: none)
  std::int64_t mixing_sample = -1;      // tokens of the mixing profile (mixing.hpp; < 0: automatic)
  std::function<void(const SpectralProgress&)> progress;
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
  EigenEstimate transition;            // value = |lambda_2|; iterations: products of all blocks, both runs
  std::int64_t strong_components = 0;  // of the directed graph
  std::int64_t closed_classes = 0;     // components no token of which attends outside it
  std::int64_t largest_component = 0;  // tokens
  bool symmetric = false;              // every edge goes both ways: P is similar to a symmetric matrix
  std::string lambda2_method;          // "structural", "dense", "lanczos" or "arnoldi"
  std::optional<double> lambda2_condition;  // kappa of lambda_2 (none when structural)
  double lambda2_error_bound = 0;           // kappa * max(residuals, 1e-15)
  bool lambda2_reliable = true;             // false: lambda2 and the gap must not be used
  std::string lambda2_note;                 // why it is exact, or why it is unreliable
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
  // Total-variation mixing of uniform attention hop by hop (when options.mixing_hops > 0).
  std::optional<MixingResult> mixing;
  double seconds = 0;
};

inline constexpr double kNearRegularCv = 0.1;

// Throws Error for a graph with fewer than 2 tokens.
SpectralResult spectral(const Csr& g, const SpectralOptions& options = {});

// The symmetrized simple graph described above, both directions stored.
Csr symmetrize(const Csr& g);

}  // namespace diffuser::diffusion
