#include "eigensolvers.hpp"

#include <algorithm>
#include <cmath>

#include <Spectra/GenEigsSolver.h>
#include <Spectra/SymEigsSolver.h>
#include <Eigen/Core>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/random.hpp>

namespace diffuser::diffusion::detail {

namespace {

// The operator as Spectra sees it: a product y = M x on raw arrays.
class SpectraOp {
 public:
  using Scalar = double;
  SpectraOp(Eigen::Index n, const RealOp& op) : n_(n), op_(op) {}
  Eigen::Index rows() const { return n_; }
  Eigen::Index cols() const { return n_; }
  void perform_op(const double* x, double* y) const { op_(x, y); }

 private:
  Eigen::Index n_;
  const RealOp& op_;
};

// Spectra names the same orders differently for general (complex) and symmetric (real) spectra.
Spectra::SortRule rule(Which which, bool symmetric) {
  switch (which) {
    case Which::largest_modulus:
      return Spectra::SortRule::LargestMagn;
    case Which::largest_real:
      return symmetric ? Spectra::SortRule::LargestAlge : Spectra::SortRule::LargestReal;
    case Which::smallest_real:
      return symmetric ? Spectra::SortRule::SmallestAlge : Spectra::SortRule::SmallestReal;
  }
  return Spectra::SortRule::LargestMagn;
}

// A seeded normal start vector, mapped into the operator's subspace.
Eigen::VectorXd start_vector(std::int64_t n, const RealProject& project, std::uint64_t seed) {
  constexpr std::uint64_t kStream = 0x6B727973ull;
  Eigen::VectorXd v(n);
  for (std::int64_t i = 0; i < n; ++i) v(i) = rng::normal(seed, kStream, static_cast<std::uint64_t>(i));
  if (project) project(v.data());
  if (v.norm() == 0.0) v(0) = 1.0;
  return v;
}

struct Sizes {
  Eigen::Index nev, ncv, maxit;
};

Sizes sizes(std::int64_t n, const SolverOptions& o, bool symmetric) {
  if (n < 4) throw Error(cat("iterative eigensolver: the operator has ", n, " rows; solve it densely"));
  // Spectra needs nev < n (symmetric) or nev + 2 <= ncv <= n (general).
  const Eigen::Index nev = std::clamp<Eigen::Index>(o.nev, 1, static_cast<Eigen::Index>(n) - 2);
  const Eigen::Index ncv =
      std::clamp<Eigen::Index>(std::max<Eigen::Index>(o.ncv, nev + (symmetric ? 1 : 2)), nev + 1, n);
  // A restart keeps about nev + (ncv - nev) / 2 vectors, so it costs about (ncv - nev) / 2 products.
  const Eigen::Index per_restart = std::max<Eigen::Index>(1, (ncv - nev) / 2);
  const Eigen::Index maxit =
      std::max<Eigen::Index>(1, static_cast<Eigen::Index>((o.max_matvecs - ncv) / per_restart) + 1);
  return {nev, ncv, maxit};
}

template <class Solver>
EigenResult collect(Solver& solver, Eigen::Index nev) {
  EigenResult r;
  r.converged = solver.info() == Spectra::CompInfo::Successful;
  r.matvecs = static_cast<std::int64_t>(solver.num_operations());
  r.restarts = static_cast<int>(solver.num_iterations());
  const auto values = solver.eigenvalues();
  const auto vectors = solver.eigenvectors();
  for (Eigen::Index i = 0; i < std::min<Eigen::Index>(values.size(), nev + 1); ++i) {
    r.values.emplace_back(values(i));
    std::vector<std::complex<double>> v(static_cast<std::size_t>(vectors.rows()));
    double norm = 0;
    for (Eigen::Index k = 0; k < vectors.rows(); ++k) {
      v[static_cast<std::size_t>(k)] = vectors(k, i);
      norm += std::norm(v[static_cast<std::size_t>(k)]);
    }
    norm = std::sqrt(norm);
    if (norm > 0)
      for (auto& e : v) e /= norm;
    r.vectors.push_back(std::move(v));
  }
  return r;
}

}  // namespace

EigenResult general_eigs(std::int64_t n, const RealOp& op, const RealProject& project, Which which,
                         const SolverOptions& o) {
  const Sizes s = sizes(n, o, false);
  SpectraOp m(static_cast<Eigen::Index>(n), op);
  Spectra::GenEigsSolver<SpectraOp> solver(m, s.nev, s.ncv);
  const Eigen::VectorXd v0 = start_vector(n, project, o.seed);
  solver.init(v0.data());
  solver.compute(rule(which, false), s.maxit, o.tol, rule(which, false));
  return collect(solver, s.nev);
}

EigenResult symmetric_eigs(std::int64_t n, const RealOp& op, const RealProject& project, Which which,
                           const SolverOptions& o) {
  const Sizes s = sizes(n, o, true);
  SpectraOp m(static_cast<Eigen::Index>(n), op);
  Spectra::SymEigsSolver<SpectraOp> solver(m, s.nev, s.ncv);
  const Eigen::VectorXd v0 = start_vector(n, project, o.seed);
  solver.init(v0.data());
  solver.compute(rule(which, true), s.maxit, o.tol, rule(which, true));
  return collect(solver, s.nev);
}

}  // namespace diffuser::diffusion::detail
