// Spectral analysis drivers: the operators (deflated P, normalized adjacency of the symmetrized
// graph) as TBB-parallel sparse products, handed to the Krylov-Schur solver.
#include <algorithm>
#include <cmath>
#include <numeric>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <diffuser/diffusion/spectral.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>

#include "krylov_schur.hpp"

namespace diffuser::diffusion {

namespace {

using cd = std::complex<double>;
constexpr std::int64_t kGrain = 512;

template <class T>
T parallel_sum(std::int64_t n, const T* x) {
  return tbb::parallel_reduce(
      tbb::blocked_range<std::int64_t>(0, n, 4096), T{},
      [&](const auto& r, T acc) {
        for (std::int64_t i = r.begin(); i < r.end(); ++i) acc += x[i];
        return acc;
      },
      [](T a, T b) { return a + b; });
}

// y = P x for P = D^-1 A (empty rows: identity).
void apply_transition(const CsrView& g, const double* x, double* y) {
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, g.n, kGrain), [&](const auto& r) {
    for (std::int64_t i = r.begin(); i < r.end(); ++i) {
      const std::int64_t b = g.row_ptr[i], e = g.row_ptr[i + 1];
      if (b == e) {
        y[i] = x[i];
        continue;
      }
      double acc = 0;
      for (std::int64_t p = b; p < e; ++p) acc += x[g.col[p]];
      y[i] = acc / static_cast<double>(e - b);
    }
  });
}

// y = D^-1/2 A_s D^-1/2 x given inv_sqrt[i] = d_i^-1/2 (0 for isolated tokens); z is scratch.
void apply_normalized(const CsrView& s, const std::vector<double>& inv_sqrt, const double* x, double* y,
                      std::vector<double>& z) {
  z.resize(static_cast<std::size_t>(s.n));
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, s.n, 4096), [&](const auto& r) {
    for (std::int64_t i = r.begin(); i < r.end(); ++i)
      z[static_cast<std::size_t>(i)] = inv_sqrt[static_cast<std::size_t>(i)] * x[i];
  });
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, s.n, kGrain), [&](const auto& r) {
    for (std::int64_t i = r.begin(); i < r.end(); ++i) {
      double acc = 0;
      for (std::int64_t p = s.row_ptr[i]; p < s.row_ptr[i + 1]; ++p)
        acc += z[static_cast<std::size_t>(s.col[p])];
      y[i] = inv_sqrt[static_cast<std::size_t>(i)] * acc;
    }
  });
}

std::int64_t count_components(const Csr& s) {
  const std::int64_t n = s.num_nodes();
  std::vector<char> seen(static_cast<std::size_t>(n), 0);
  std::vector<std::int32_t> stack;
  std::int64_t count = 0;
  for (std::int64_t root = 0; root < n; ++root) {
    if (seen[static_cast<std::size_t>(root)]) continue;
    ++count;
    seen[static_cast<std::size_t>(root)] = 1;
    stack.assign(1, static_cast<std::int32_t>(root));
    while (!stack.empty()) {
      const std::int32_t v = stack.back();
      stack.pop_back();
      for (const std::int32_t u : s.neighbors(v))
        if (!seen[static_cast<std::size_t>(u)]) {
          seen[static_cast<std::size_t>(u)] = 1;
          stack.push_back(u);
        }
    }
  }
  return count;
}

detail::KrylovOptions krylov_options(const SpectralOptions& o, int nev) {
  detail::KrylovOptions k;
  k.nev = nev;
  k.ncv = o.krylov_dim;
  k.tol = o.tol;
  k.max_matvecs = o.max_iterations;
  k.seed = o.seed;
  return k;
}

void transition_part(const Csr& g, const SpectralOptions& opt, SpectralResult& res) {
  const std::int64_t n = g.num_nodes();
  const CsrView v = g.view();
  const double inv_n = 1.0 / static_cast<double>(n);
  // B = (I - 1 1^T / n) P on mean-zero vectors: the spectrum of P less one copy of 1.
  auto project = [&](double* x) {
    const double mean = parallel_sum(n, x) * inv_n;
    for (std::int64_t i = 0; i < n; ++i) x[i] -= mean;
  };
  auto op = [&](const double* x, double* y) {
    apply_transition(v, x, y);
    project(y);
  };
  // nev = 3: the wanted eigenvalue, its conjugate and the next, so a pair cannot hide a rival.
  const detail::KrylovResult kr =
      detail::krylov_schur(n, op, project, detail::Which::largest_modulus, krylov_options(opt, 3));
  res.lambda2 = kr.value;
  res.lambda2_modulus = std::abs(kr.value);
  res.spectral_gap = 1.0 - res.lambda2_modulus;
  res.transition.value = res.lambda2_modulus;
  res.transition.iterations = kr.matvecs;
  res.transition.restarts = kr.restarts;
  res.transition.converged = kr.converged;
  // An eigenvector of P from the deflated one: B x = l x gives P x = l x + c 1, so
  // y = x + c / (l - 1) 1 satisfies P y = l y. Its residual is computed afresh.
  std::vector<cd> y(kr.vector), py(static_cast<std::size_t>(n));
  {
    std::vector<double> re(static_cast<std::size_t>(n)), im(static_cast<std::size_t>(n)), pre(re.size()),
        pim(re.size());
    for (std::size_t i = 0; i < re.size(); ++i) {
      re[i] = y[i].real();
      im[i] = y[i].imag();
    }
    apply_transition(v, re.data(), pre.data());
    apply_transition(v, im.data(), pim.data());
    for (std::size_t i = 0; i < re.size(); ++i) py[i] = {pre[i], pim[i]};
  }
  const cd c = parallel_sum(n, py.data()) * inv_n;
  const cd l = kr.value;
  if (std::abs(l - 1.0) > 1e-6) {
    const cd shift = c / (l - 1.0);
    for (auto& e : y) e += shift;
    for (auto& e : py) e += shift;  // P 1 = 1
  }
  double rr = 0, yy = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    rr += std::norm(py[static_cast<std::size_t>(i)] - l * y[static_cast<std::size_t>(i)]);
    yy += std::norm(y[static_cast<std::size_t>(i)]);
  }
  res.transition.residual = yy > 0 ? std::sqrt(rr / yy) : 0.0;
}

EigenEstimate symmetric_eigen(const CsrView& s, const std::vector<double>& inv_sqrt,
                              const std::vector<double>& u, detail::Which which, const SpectralOptions& opt) {
  const std::int64_t n = s.n;
  auto project = [&](double* x) {
    double dot = 0;
    for (std::int64_t i = 0; i < n; ++i) dot += u[static_cast<std::size_t>(i)] * x[i];
    for (std::int64_t i = 0; i < n; ++i) x[i] -= dot * u[static_cast<std::size_t>(i)];
  };
  std::vector<double> z;
  auto op = [&](const double* x, double* y) {
    apply_normalized(s, inv_sqrt, x, y, z);
    project(y);
  };
  const detail::KrylovResult kr =
      detail::krylov_schur_symmetric(n, op, project, which, krylov_options(opt, 2));
  EigenEstimate e;
  const double mu = kr.value.real();
  e.value = 1.0 - mu;  // eigenvalue of L = I - M
  e.iterations = kr.matvecs;
  e.restarts = kr.restarts;
  e.converged = kr.converged;
  std::vector<double> x(static_cast<std::size_t>(n)), mx(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    x[static_cast<std::size_t>(i)] = kr.vector[static_cast<std::size_t>(i)].real();
  apply_normalized(s, inv_sqrt, x.data(), mx.data(), z);
  double rr = 0, xx = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = mx[static_cast<std::size_t>(i)] - mu * x[static_cast<std::size_t>(i)];
    rr += d * d;
    xx += x[static_cast<std::size_t>(i)] * x[static_cast<std::size_t>(i)];
  }
  e.residual = xx > 0 ? std::sqrt(rr / xx) : 0.0;
  return e;
}

void laplacian_part(const Csr& g, const SpectralOptions& opt, SpectralResult& res, const Stopwatch& clock) {
  const Csr s = symmetrize(g);
  const std::int64_t n = s.num_nodes();
  res.has_laplacian = true;
  res.undirected_edges = s.num_edges() / 2;
  res.components = count_components(s);
  std::vector<double> inv_sqrt(static_cast<std::size_t>(n)), u(static_cast<std::size_t>(n));
  double sum = 0, sum2 = 0, unorm = 0;
  res.degree_min = static_cast<double>(s.degree(0));
  for (std::int64_t i = 0; i < n; ++i) {
    const auto d = static_cast<double>(s.degree(i));
    sum += d;
    sum2 += d * d;
    res.degree_min = std::min(res.degree_min, d);
    res.degree_max = std::max(res.degree_max, d);
    inv_sqrt[static_cast<std::size_t>(i)] = d > 0 ? 1.0 / std::sqrt(d) : 0.0;
    u[static_cast<std::size_t>(i)] = std::sqrt(d);
    unorm += d;
  }
  res.degree_mean = sum / static_cast<double>(n);
  const double var = std::max(0.0, sum2 / static_cast<double>(n) - res.degree_mean * res.degree_mean);
  res.degree_cv = res.degree_mean > 0 ? std::sqrt(var) / res.degree_mean : 0.0;
  res.near_regular = res.degree_cv <= kNearRegularCv;
  if (unorm > 0)
    for (auto& x : u) x /= std::sqrt(unorm);

  const CsrView sv = s.view();
  if (res.components > 1) {
    // Each component adds an eigenvalue 0 (isolated tokens too, by the usual convention).
    res.laplacian_lambda2 = EigenEstimate{0.0, 0, 0, 0.0, true};
  } else {
    res.laplacian_lambda2 = symmetric_eigen(sv, inv_sqrt, u, detail::Which::largest_real, opt);
  }
  if (opt.progress) opt.progress("laplacian-lambda2", res.laplacian_lambda2.iterations, clock.seconds());
  // The Ramanujan comparison also needs the most negative eigenvalue of M = I - L: the largest
  // of L (deflating u is harmless there). Only computed where the bound applies.
  const double d = res.degree_mean;
  if (res.near_regular && d >= 2.0) {
    res.ramanujan_bound = 2.0 * std::sqrt(d - 1.0) / d;
    res.laplacian_lambda_max = symmetric_eigen(sv, inv_sqrt, u, detail::Which::smallest_real, opt);
    res.has_lambda_max = true;
    if (opt.progress) opt.progress("laplacian-max", res.laplacian_lambda_max.iterations, clock.seconds());
    res.adjacency_nontrivial =
        std::max(std::abs(1.0 - res.laplacian_lambda2.value), std::abs(1.0 - res.laplacian_lambda_max.value));
  }
}

}  // namespace

Csr symmetrize(const Csr& g) {
  const std::int64_t n = g.num_nodes();
  const Csr t = g.transpose();
  // Row i: the sorted union of g's row i and t's row i, without i.
  std::vector<std::int64_t> row_ptr(static_cast<std::size_t>(n) + 1, 0);
  auto merge = [&](std::int64_t i, std::int32_t* out) {
    const auto a = g.neighbors(i), b = t.neighbors(i);
    std::size_t p = 0, q = 0;
    std::int64_t c = 0;
    while (p < a.size() || q < b.size()) {
      std::int32_t x;
      if (q >= b.size() || (p < a.size() && a[p] < b[q])) {
        x = a[p++];
      } else if (p >= a.size() || b[q] < a[p]) {
        x = b[q++];
      } else {
        x = a[p++];
        ++q;
      }
      if (x == i) continue;
      if (out) out[c] = x;
      ++c;
    }
    return c;
  };
  tbb::parallel_for(std::int64_t{0}, n,
                    [&](std::int64_t i) { row_ptr[static_cast<std::size_t>(i) + 1] = merge(i, nullptr); });
  for (std::int64_t i = 0; i < n; ++i)
    row_ptr[static_cast<std::size_t>(i) + 1] += row_ptr[static_cast<std::size_t>(i)];
  std::vector<std::int32_t> col(static_cast<std::size_t>(row_ptr.back()));
  tbb::parallel_for(std::int64_t{0}, n,
                    [&](std::int64_t i) { merge(i, col.data() + row_ptr[static_cast<std::size_t>(i)]); });
  return Csr::from_arrays(n, std::move(row_ptr), std::move(col));
}

SpectralResult spectral(const Csr& g, const SpectralOptions& opt) {
  if (g.device() != Device::cpu) throw Error("spectral: the graph must be on the CPU");
  const std::int64_t n = g.num_nodes();
  if (n < 2) throw Error(cat("spectral analysis needs at least 2 tokens, the graph has ", n));
  if (!(opt.tol > 0.0 && opt.tol < 1.0)) throw UsageError(cat("tolerance must be in (0, 1), got ", opt.tol));
  if (opt.max_iterations < 1) throw UsageError(cat("max iterations must be >= 1, got ", opt.max_iterations));
  if (opt.krylov_dim < 4 || opt.krylov_dim > 1000)
    throw UsageError(cat("Krylov dimension must be in [4, 1000], got ", opt.krylov_dim));
  const std::int64_t basis = std::min<std::int64_t>(opt.krylov_dim + 1, n);
  require_memory(n * basis * 8 + n * 64 + g.num_edges() * 12,
                 cat("spectral: Krylov basis of ", basis, " vectors of ", n, " plus the symmetrized graph"));
  const Stopwatch clock;
  SpectralResult res;
  res.nodes = n;
  res.edges = g.num_edges();
  for (std::int64_t i = 0; i < n; ++i) res.empty_rows += g.degree(i) == 0;
  transition_part(g, opt, res);
  if (opt.progress) opt.progress("transition", res.transition.iterations, clock.seconds());
  if (opt.laplacian) laplacian_part(g, opt, res, clock);
  res.seconds = clock.seconds();
  return res;
}

}  // namespace diffuser::diffusion
