#include "krylov_schur.hpp"

#include <algorithm>
#include <cmath>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>
#include <Eigen/Dense>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/random.hpp>

namespace diffuser::diffusion::detail {

namespace {

using cd = std::complex<double>;
using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;
constexpr Eigen::Index kRowBlock = 4096;  // rows of the basis per task in the dense kernels

bool before(const cd& a, const cd& b, Which which) {
  switch (which) {
    case Which::largest_modulus: {
      const double ma = std::abs(a), mb = std::abs(b);
      if (ma != mb) return ma > mb;
      if (a.real() != b.real()) return a.real() > b.real();
      return a.imag() > b.imag();  // conjugate pairs stay adjacent, + first
    }
    case Which::largest_real:
      return a.real() > b.real();
    case Which::smallest_real:
      return a.real() < b.real();
  }
  return false;
}

// Swaps the diagonal entries k and k+1 of the complex upper-triangular T (U accumulates).
void swap_schur(Eigen::MatrixXcd& T, Eigen::MatrixXcd& U, Eigen::Index k) {
  const cd a = T(k, k), c = T(k + 1, k + 1), b = T(k, k + 1);
  const cd x1 = b, x2 = c - a;
  const double r = std::hypot(std::abs(x1), std::abs(x2));
  if (r == 0.0) return;
  // First column: the eigenvector of the 2x2 block for c, so G^H T G puts c first.
  Eigen::Matrix2cd G;
  G << x1 / r, -std::conj(x2) / r, x2 / r, std::conj(x1) / r;
  const Eigen::Index n = T.rows();
  T.block(k, k, 2, n - k) = (G.adjoint() * T.block(k, k, 2, n - k)).eval();
  T.block(0, k, k + 2, 2) = (T.block(0, k, k + 2, 2) * G).eval();
  U.middleCols(k, 2) = (U.middleCols(k, 2) * G).eval();
  T(k + 1, k) = 0.0;
}

// The dense step: eigenvalues of H in wanted order and, for the leading `keep` of them (grown
// by one where a conjugate pair would be split), a real orthonormal basis Q of their invariant
// subspace. first: the unit eigenvector of H for the leading eigenvalue.
struct Dense {
  std::vector<cd> values;               // all, wanted first
  Eigen::VectorXcd first;               // eigenvector of values[0]
  Mat Q;                                // m x keep, real, orthonormal, H Q = Q (Q^T H Q)
  std::vector<double> residual_weight;  // |last component| of the leading Schur vectors
};

Dense dense_general(const Mat& H, Which which, Eigen::Index keep) {
  const Eigen::Index m = H.rows();
  Eigen::ComplexSchur<Eigen::MatrixXcd> schur(H.cast<cd>());
  if (schur.info() != Eigen::Success)
    throw Error("Krylov-Schur: the dense Schur decomposition did not converge");
  Eigen::MatrixXcd T = schur.matrixT(), U = schur.matrixU();
  for (Eigen::Index p = 0; p < m; ++p) {
    Eigen::Index best = p;
    for (Eigen::Index q = p + 1; q < m; ++q)
      if (before(T(q, q), T(best, best), which)) best = q;
    for (Eigen::Index q = best; q > p; --q) swap_schur(T, U, q - 1);
  }
  Dense d;
  for (Eigen::Index i = 0; i < m; ++i) d.values.push_back(T(i, i));
  for (Eigen::Index i = 0; i < m; ++i) d.residual_weight.push_back(std::abs(U(m - 1, i)));
  d.first = U.col(0);
  // The span of the leading Schur vectors is real when it is closed under conjugation: grow keep
  // until [Re U_k, Im U_k] has rank keep, then take a real orthonormal basis of it.
  for (; keep <= m; ++keep) {
    Mat both(m, 2 * keep);
    both.leftCols(keep) = U.leftCols(keep).real();
    both.rightCols(keep) = U.leftCols(keep).imag();
    Eigen::ColPivHouseholderQR<Mat> qr(both);
    qr.setThreshold(1e-8);
    if (qr.rank() <= keep || keep == m) {
      const Mat full = qr.householderQ() * Mat::Identity(m, keep);
      d.Q = full;
      break;
    }
  }
  return d;
}

Dense dense_symmetric(const Mat& H, Which which, Eigen::Index keep) {
  const Mat S = (H + H.transpose()) * 0.5;
  Eigen::SelfAdjointEigenSolver<Mat> es(S);
  if (es.info() != Eigen::Success) throw Error("Lanczos: the dense eigen-decomposition did not converge");
  const Eigen::Index m = S.rows();
  std::vector<Eigen::Index> order(static_cast<std::size_t>(m));
  for (Eigen::Index i = 0; i < m; ++i) order[static_cast<std::size_t>(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) {
    return before(es.eigenvalues()(a), es.eigenvalues()(b), which);
  });
  Dense d;
  d.Q.resize(m, keep);
  for (Eigen::Index i = 0; i < m; ++i) {
    const Eigen::Index o = order[static_cast<std::size_t>(i)];
    d.values.emplace_back(es.eigenvalues()(o), 0.0);
    d.residual_weight.push_back(std::abs(es.eigenvectors()(m - 1, o)));
    if (i < keep) d.Q.col(i) = es.eigenvectors().col(o);
  }
  d.first = es.eigenvectors().col(order[0]).cast<cd>();
  return d;
}

// h = V[:, :j]^T w and w -= V[:, :j] h, row blocks in parallel.
Vec project_out(const Mat& V, Eigen::Index j, Vec& w) {
  const Eigen::Index n = V.rows();
  Vec h = tbb::parallel_reduce(
      tbb::blocked_range<Eigen::Index>(0, n, kRowBlock), Vec(Vec::Zero(j)),
      [&](const auto& r, Vec acc) {
        const Eigen::Index len = r.end() - r.begin();
        acc.noalias() += V.block(r.begin(), 0, len, j).transpose() * w.segment(r.begin(), len);
        return acc;
      },
      [](const Vec& a, const Vec& b) { return Vec(a + b); });
  tbb::parallel_for(tbb::blocked_range<Eigen::Index>(0, n, kRowBlock), [&](const auto& r) {
    const Eigen::Index len = r.end() - r.begin();
    w.segment(r.begin(), len).noalias() -= V.block(r.begin(), 0, len, j) * h;
  });
  return h;
}

// V[:, :k] = V[:, :m] Q, row blocks in parallel.
void rotate_basis(Mat& V, Eigen::Index m, const Mat& Q) {
  const Eigen::Index n = V.rows(), k = Q.cols();
  tbb::parallel_for(tbb::blocked_range<Eigen::Index>(0, n, kRowBlock), [&](const auto& r) {
    const Eigen::Index len = r.end() - r.begin();
    const Mat rows = V.block(r.begin(), 0, len, m) * Q;
    V.block(r.begin(), 0, len, k) = rows;
  });
}

template <class Op, class Project>
KrylovResult run(std::int64_t n, const Op& op, const Project& project, Which which, const KrylovOptions& opt,
                 bool symmetric) {
  if (n < 1) throw Error("Krylov-Schur: empty operator");
  const Eigen::Index m = static_cast<Eigen::Index>(std::min<std::int64_t>(std::max(opt.ncv, 2), n));
  const Eigen::Index nev = std::clamp<Eigen::Index>(opt.nev, 1, std::max<Eigen::Index>(1, m - 1));
  Mat V(n, m + 1);
  Mat H = Mat::Zero(m + 1, m);
  Vec w(n);
  constexpr std::uint64_t kStream = 0x6B727973ull;  // "krys"
  for (std::int64_t i = 0; i < n; ++i) w(i) = rng::normal(opt.seed, kStream, static_cast<std::uint64_t>(i));
  project(w.data());
  if (w.norm() == 0.0) w(0) = 1.0;
  V.col(0) = w / w.norm();

  KrylovResult res;
  Eigen::Index k = 0;
  for (int restart = 0;; ++restart) {
    Eigen::Index mm = m;
    bool breakdown = false;
    for (Eigen::Index j = k; j < m; ++j) {
      op(V.col(j).data(), w.data());
      ++res.matvecs;
      // Classical Gram-Schmidt, twice (re-orthogonalisation keeps the basis orthonormal).
      Vec h = project_out(V, j + 1, w);
      h += project_out(V, j + 1, w);
      H.col(j).head(j + 1) = h;
      const double beta = w.norm();
      H(j + 1, j) = beta;
      if (beta <= 1e-12 * std::max(1.0, h.norm())) {  // invariant subspace: Ritz values are exact
        mm = j + 1;
        breakdown = true;
        H(j + 1, j) = 0.0;
        break;
      }
      V.col(j + 1) = w / beta;
    }
    const Eigen::Index want = std::min(nev, mm);
    const Eigen::Index keep0 = std::max<Eigen::Index>(1, std::min(mm - 1, nev + (mm - nev) / 2));
    const Mat Hm = H.topLeftCorner(mm, mm);
    const Dense d = symmetric ? dense_symmetric(Hm, which, keep0) : dense_general(Hm, which, keep0);
    const double beta = std::abs(H(mm, mm - 1));
    bool converged = true;
    for (Eigen::Index i = 0; i < want; ++i)
      if (beta * d.residual_weight[static_cast<std::size_t>(i)] > opt.tol) converged = false;
    res.restarts = restart;
    res.residual_estimate = beta * d.residual_weight[0];
    const Eigen::Index keep = d.Q.cols();
    const bool out_of_budget = res.matvecs + (m - keep) > opt.max_matvecs;
    if (converged || breakdown || out_of_budget || mm < 2 || keep >= mm) {
      res.converged = converged || breakdown;
      res.value = d.values[0];
      for (Eigen::Index i = 0; i < want; ++i) res.ritz.push_back(d.values[static_cast<std::size_t>(i)]);
      const Vec xr = V.leftCols(mm) * d.first.real();
      const Vec xi = V.leftCols(mm) * d.first.imag();
      const double xn = std::sqrt(xr.squaredNorm() + xi.squaredNorm());
      res.vector.resize(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) res.vector[static_cast<std::size_t>(i)] = cd(xr(i), xi(i)) / xn;
      return res;
    }
    // Thick restart: V_k = V_m Q, H_k = Q^T H_m Q plus the coupling row beta e_m^T Q.
    const Mat Hk = d.Q.transpose() * Hm * d.Q;
    const Eigen::RowVectorXd coupling = H(mm, mm - 1) * d.Q.row(mm - 1);
    rotate_basis(V, mm, d.Q);
    V.col(keep) = V.col(mm);
    H.setZero();
    H.topLeftCorner(keep, keep) = Hk;
    H.row(keep).head(keep) = coupling;
    k = keep;
  }
}

}  // namespace

KrylovResult krylov_schur(std::int64_t n, const RealOp& op, const RealProject& project, Which which,
                          const KrylovOptions& options) {
  return run(n, op, project, which, options, false);
}

KrylovResult krylov_schur_symmetric(std::int64_t n, const RealOp& op, const RealProject& project, Which which,
                                    const KrylovOptions& options) {
  return run(n, op, project, which, options, true);
}

}  // namespace diffuser::diffusion::detail
