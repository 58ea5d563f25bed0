// Krylov-Schur eigensolver (Stewart 2002) for a few extreme eigenvalues of a large sparse operator
// given only as a matrix-vector product: Arnoldi with full re-orthogonalisation and thick restarts
// through a reordered Schur form. Real symmetric operators reduce to thick-restart Lanczos.
#pragma once

#include <complex>
#include <cstdint>
#include <functional>
#include <vector>

namespace diffuser::diffusion::detail {

enum class Which { largest_modulus, largest_real, smallest_real };

struct KrylovOptions {
  int nev = 3;         // Schur vectors that must converge (the wanted eigenvalue and its nearest rivals)
  int ncv = 48;        // basis size
  double tol = 1e-10;  // on |beta * last component| of each of the nev Schur vectors (operator norm ~ 1)
  std::int64_t max_matvecs = 20000;
  std::uint64_t seed = 0;
};

struct KrylovResult {
  std::complex<double> value;                // the wanted eigenvalue (first Ritz value)
  std::vector<std::complex<double>> vector;  // its Ritz vector, unit norm
  std::vector<std::complex<double>> ritz;    // the nev leading Ritz values, in wanted order
  double residual_estimate = 0;              // |beta| |last component| of the first Schur vector
  std::int64_t matvecs = 0;
  int restarts = 0;
  bool converged = false;
};

using RealOp = std::function<void(const double* x, double* y)>;
// Maps the start vector into the subspace the operator is restricted to (deflation).
using RealProject = std::function<void(double* x)>;

// A real, general operator: the basis stays real; the dense step uses a reordered complex Schur
// form and keeps a real basis of the wanted invariant subspace (conjugate pairs kept together).
KrylovResult krylov_schur(std::int64_t n, const RealOp& op, const RealProject& project, Which which,
                          const KrylovOptions& options);
// op must be symmetric.
KrylovResult krylov_schur_symmetric(std::int64_t n, const RealOp& op, const RealProject& project, Which which,
                                    const KrylovOptions& options);

}  // namespace diffuser::diffusion::detail
