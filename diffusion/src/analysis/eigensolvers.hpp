// A few extreme eigenpairs of a large sparse operator given only as a matrix-vector product,
// through Spectra: implicitly restarted Arnoldi for general real operators, implicitly restarted
// Lanczos for symmetric ones. Start vectors are seeded, so results are reproducible.
#pragma once

#include <complex>
#include <cstdint>
#include <functional>
#include <vector>

namespace diffuser::diffusion::detail {

enum class Which { largest_modulus, largest_real, smallest_real };

struct SolverOptions {
  int nev = 1;         // eigenpairs that must converge (1: restarts keep half the basis, ARPACK's rule)
  int ncv = 48;        // Krylov basis size between restarts (clamped to [nev + 2, n])
  double tol = 1e-10;  // Spectra's test: residual <= tol * max(eps^(2/3), |lambda|)
  std::int64_t max_matvecs = 20000;
  std::uint64_t seed = 0;
};

struct EigenResult {
  std::vector<std::complex<double>> values;                // converged, wanted first
  std::vector<std::vector<std::complex<double>>> vectors;  // unit norm, one per value
  std::int64_t matvecs = 0;
  int restarts = 0;
  bool converged = false;  // all nev wanted pairs converged within max_matvecs
};

using RealOp = std::function<void(const double* x, double* y)>;
// Maps a vector into the subspace the operator is restricted to (deflation); may be empty.
using RealProject = std::function<void(double* x)>;

// op: a real n x n operator (n >= nev + 2). For complex pairs both members are returned.
EigenResult general_eigs(std::int64_t n, const RealOp& op, const RealProject& project, Which which,
                         const SolverOptions& options);
// op must be symmetric; values are real (imaginary parts 0).
EigenResult symmetric_eigs(std::int64_t n, const RealOp& op, const RealProject& project, Which which,
                           const SolverOptions& options);

}  // namespace diffuser::diffusion::detail
