// Spectral analysis drivers: P = D^-1 A block by block over its strongly connected components
// (structural, dense or through Spectra, with the condition number of lambda_2), and the
// normalized adjacency of the symmetrized graph through Spectra's Lanczos.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <numeric>
#include <optional>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_invoke.h>
#include <tbb/parallel_reduce.h>
#include <Eigen/Dense>

#include <diffuser/diffusion/spectral.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>
#include <diffuser/graphs/bgl.hpp>

#include "eigensolvers.hpp"

namespace diffuser::diffusion {

namespace {

using cd = std::complex<double>;
constexpr std::int64_t kGrain = 512;
constexpr double kFloorResidual = 1e-15;  // rounding of P's entries: no residual is smaller

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

void subtract_mean(std::int64_t n, double* x) {
  const double mean = parallel_sum(n, x) / static_cast<double>(n);
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, 4096), [&](const auto& r) {
    for (std::int64_t i = r.begin(); i < r.end(); ++i) x[i] -= mean;
  });
}

// Reports products as they happen, every 32nd, and the end of each stage; two solver runs may
// tick at once, so the count is atomic and the report serialised.
struct StageReporter {
  StageReporter(const SpectralOptions& o, const Stopwatch& c, std::string name)
      : opt(o), clock(c), stage(std::move(name)) {}
  const SpectralOptions& opt;
  const Stopwatch& clock;
  std::string stage;
  std::atomic<std::int64_t> products{0};
  std::mutex mu;
  void tick() {
    const std::int64_t p = ++products;
    if (p % 32 == 0 && opt.progress) {
      std::lock_guard<std::mutex> lock(mu);
      opt.progress({stage, p, false, clock.seconds()});
    }
  }
  void done() {
    if (opt.progress) opt.progress({stage, products.load(), true, clock.seconds()});
  }
};

// ---- P = D^-1 A over one strongly connected component -------------------------------------

// The block P_CC over local indices 0..n-1: row i's local sources, weight 1 / deg(i) with the
// token's full in-degree (edges leaving the block still count: P_CC is then substochastic).
struct Block {
  std::vector<std::int32_t> tokens;  // global ids, ascending
  Csr local;                         // rows and columns in local ids, edges inside the block only
  Csr transposed;                    // row j: the local tokens that attend to j
  std::vector<double> inv_deg;
  bool closed = true;     // every source of every token is inside: P_CC 1 = 1
  bool symmetric = true;  // the block's edges all go both ways
};

Block make_block(const Csr& g, std::vector<std::int32_t> tokens, const std::vector<std::int32_t>& local_id,
                 const std::vector<std::int32_t>& comp, std::int32_t c) {
  Block b;
  b.tokens = std::move(tokens);
  const auto n = static_cast<std::int64_t>(b.tokens.size());
  std::vector<std::int64_t> row_ptr(static_cast<std::size_t>(n) + 1, 0);
  b.inv_deg.resize(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int32_t t = b.tokens[static_cast<std::size_t>(i)];
    std::int64_t inside = 0;
    for (const std::int32_t j : g.neighbors(t)) inside += comp[static_cast<std::size_t>(j)] == c;
    if (inside != g.degree(t)) b.closed = false;
    row_ptr[static_cast<std::size_t>(i) + 1] = row_ptr[static_cast<std::size_t>(i)] + inside;
    b.inv_deg[static_cast<std::size_t>(i)] = 1.0 / static_cast<double>(g.degree(t));
  }
  std::vector<std::int32_t> col(static_cast<std::size_t>(row_ptr.back()));
  tbb::parallel_for(std::int64_t{0}, n, [&](std::int64_t i) {
    std::int64_t p = row_ptr[static_cast<std::size_t>(i)];
    for (const std::int32_t j : g.neighbors(b.tokens[static_cast<std::size_t>(i)]))
      if (comp[static_cast<std::size_t>(j)] == c)
        col[static_cast<std::size_t>(p++)] = local_id[static_cast<std::size_t>(j)];
  });
  b.local = Csr::from_arrays(n, std::move(row_ptr), std::move(col));
  b.transposed = b.local.transpose();
  b.symmetric = b.closed && b.transposed == b.local;
  return b;
}

// y = P_CC x.
void apply_block(const Block& b, const double* x, double* y) {
  const CsrView v = b.local.view();
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, v.n, kGrain), [&](const auto& r) {
    for (std::int64_t i = r.begin(); i < r.end(); ++i) {
      double acc = 0;
      for (std::int64_t p = v.row_ptr[i]; p < v.row_ptr[i + 1]; ++p) acc += x[v.col[p]];
      y[i] = acc * b.inv_deg[static_cast<std::size_t>(i)];
    }
  });
}

// y = P_CC^T x.
void apply_block_transposed(const Block& b, const double* x, double* y) {
  const CsrView v = b.transposed.view();
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, v.n, kGrain), [&](const auto& r) {
    for (std::int64_t j = r.begin(); j < r.end(); ++j) {
      double acc = 0;
      for (std::int64_t p = v.row_ptr[j]; p < v.row_ptr[j + 1]; ++p)
        acc += x[v.col[p]] * b.inv_deg[static_cast<std::size_t>(v.col[p])];
      y[j] = acc;
    }
  });
}

// Complex vectors through a real operator: M (re + i im).
template <class Apply>
std::vector<cd> apply_complex(std::int64_t n, const std::vector<cd>& x, const Apply& apply) {
  std::vector<double> re(static_cast<std::size_t>(n)), im(re.size()), ore(re.size()), oim(re.size());
  for (std::size_t i = 0; i < re.size(); ++i) re[i] = x[i].real(), im[i] = x[i].imag();
  apply(re.data(), ore.data());
  apply(im.data(), oim.data());
  std::vector<cd> y(re.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = {ore[i], oim[i]};
  return y;
}

double norm(const std::vector<cd>& x) {
  double s = 0;
  for (const cd& e : x) s += std::norm(e);
  return std::sqrt(s);
}

double relative_residual(const std::vector<cd>& mx, const std::vector<cd>& x, cd l) {
  double rr = 0;
  for (std::size_t i = 0; i < x.size(); ++i) rr += std::norm(mx[i] - l * x[i]);
  const double xx = norm(x);
  return xx > 0 ? std::sqrt(rr) / xx : 0.0;
}

// The block's leading eigenvalue besides its own eigenvalue 1 (closed blocks), and how well it
// is determined.
struct Candidate {
  cd value{0.0, 0.0};
  bool unit = false;  // the eigenvalue 1 of a closed block, exact
  std::string method;
  double residual = 0;
  std::optional<double> condition;
  bool converged = true;
  bool reliable = true;
  std::string note;
  std::int64_t matvecs = 0;
  int restarts = 0;
};

// kappa from right and left eigenvectors x and z of the same eigenvalue (z^T M = lambda z^T).
std::optional<double> condition_number(const std::vector<cd>& x, const std::vector<cd>& z) {
  cd dot = 0;
  for (std::size_t i = 0; i < x.size(); ++i) dot += z[i] * x[i];
  if (std::abs(dot) == 0.0) return std::numeric_limits<double>::infinity();
  return norm(x) * norm(z) / std::abs(dot);
}

void judge(Candidate& c, double other_residual) {
  if (!c.condition) return;
  if (std::isnan(*c.condition)) c.condition = std::numeric_limits<double>::infinity();
  const double bound = *c.condition * std::max({c.residual, other_residual, kFloorResidual});
  if (!(bound <= kUnreliableError)) {
    c.reliable = false;
    c.note = cat("ill-conditioned: P is far from normal here (eigenvalue condition number ", *c.condition,
                 "), so a perturbation of 1e-15 may move this eigenvalue by ", bound,
                 "; a small residual does not make it accurate");
  }
}

std::vector<Candidate> dense_block(const Block& b) {
  const auto n = static_cast<Eigen::Index>(b.tokens.size());
  Eigen::MatrixXd M = Eigen::MatrixXd::Zero(n, n);
  for (Eigen::Index i = 0; i < n; ++i)
    for (const std::int32_t j : b.local.neighbors(i)) M(i, j) += b.inv_deg[static_cast<std::size_t>(i)];
  Eigen::EigenSolver<Eigen::MatrixXd> es(M, true);
  if (es.info() != Eigen::Success) throw Error("spectral: a dense eigen-decomposition did not converge");
  const Eigen::MatrixXcd V = es.eigenvectors();
  const Eigen::MatrixXcd W = V.inverse();  // rows: left eigenvectors, w_i^H... with w_i v_i = 1
  std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index c) {
    return std::abs(es.eigenvalues()(a)) > std::abs(es.eigenvalues()(c));
  });
  std::vector<Candidate> out;
  Eigen::Index skip = -1;
  if (b.closed) {  // its eigenvalue 1, exact: the one computed nearest to 1 is dropped
    skip = *std::min_element(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index c) {
      return std::abs(es.eigenvalues()(a) - 1.0) < std::abs(es.eigenvalues()(c) - 1.0);
    });
    Candidate one;
    one.value = 1.0;
    one.unit = true;
    one.method = "dense";
    out.push_back(one);
  }
  for (const Eigen::Index i : order) {
    if (i == skip) continue;
    Candidate c;
    c.value = es.eigenvalues()(i);
    c.method = "dense";
    c.residual = (M.cast<cd>() * V.col(i) - c.value * V.col(i)).norm() / std::max(V.col(i).norm(), 1e-300);
    c.condition = W.row(i).norm() * V.col(i).norm();
    judge(c, 0.0);
    out.push_back(c);
    break;  // the block's leading one is all lambda_2 can need
  }
  return out;
}

// A symmetric block: P_CC = D^-1 A is similar to S = D^-1/2 A D^-1/2, whose eigenvector for 1
// is D^1/2 1; Lanczos on S with it projected out.
Candidate lanczos_block(const Block& b, const SpectralOptions& opt, StageReporter& rep) {
  const std::int64_t n = static_cast<std::int64_t>(b.tokens.size());
  const CsrView v = b.local.view();
  std::vector<double> isq(static_cast<std::size_t>(n)), u(static_cast<std::size_t>(n)), z(u.size());
  double unorm = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    isq[static_cast<std::size_t>(i)] = std::sqrt(b.inv_deg[static_cast<std::size_t>(i)]);
    u[static_cast<std::size_t>(i)] = 1.0 / isq[static_cast<std::size_t>(i)];
    unorm += 1.0 / b.inv_deg[static_cast<std::size_t>(i)];
  }
  for (double& e : u) e /= std::sqrt(unorm);
  auto project = [&](double* x) {
    const double dot = tbb::parallel_reduce(
        tbb::blocked_range<std::int64_t>(0, n, 4096), 0.0,
        [&](const auto& r, double acc) {
          for (std::int64_t i = r.begin(); i < r.end(); ++i) acc += u[static_cast<std::size_t>(i)] * x[i];
          return acc;
        },
        std::plus<>());
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, 4096), [&](const auto& r) {
      for (std::int64_t i = r.begin(); i < r.end(); ++i) x[i] -= dot * u[static_cast<std::size_t>(i)];
    });
  };
  auto apply_s = [&](const double* x, double* y) {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, 4096), [&](const auto& r) {
      for (std::int64_t i = r.begin(); i < r.end(); ++i)
        z[static_cast<std::size_t>(i)] = isq[static_cast<std::size_t>(i)] * x[i];
    });
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, kGrain), [&](const auto& r) {
      for (std::int64_t i = r.begin(); i < r.end(); ++i) {
        double acc = 0;
        for (std::int64_t p = v.row_ptr[i]; p < v.row_ptr[i + 1]; ++p)
          acc += z[static_cast<std::size_t>(v.col[p])];
        y[i] = isq[static_cast<std::size_t>(i)] * acc;
      }
    });
  };
  auto op = [&](const double* x, double* y) {
    apply_s(x, y);
    project(y);
    rep.tick();
  };
  detail::SolverOptions so;
  so.nev = 1;  // restarts keep half the basis (see arnoldi_block)
  so.ncv = opt.krylov_dim;
  so.tol = opt.tol;
  so.max_matvecs = opt.max_iterations;
  so.seed = opt.seed;
  const detail::EigenResult r = detail::symmetric_eigs(n, op, project, detail::Which::largest_modulus, so);
  Candidate c;
  c.method = "lanczos";
  c.matvecs = r.matvecs;
  c.restarts = r.restarts;
  c.converged = r.converged && !r.values.empty();
  if (r.values.empty()) {
    c.value = std::numeric_limits<double>::quiet_NaN();
    c.reliable = false;
    c.note = "Lanczos did not converge: raise --max-iter";
    return c;
  }
  c.value = r.values[0].real();
  // Right eigenvector of P: D^-1/2 y; left: D^1/2 y; kappa = ||D^-1/2 y|| ||D^1/2 y|| / (y . y).
  std::vector<cd> x(static_cast<std::size_t>(n)), zl(x.size());
  for (std::int64_t i = 0; i < n; ++i) {
    const double y = r.vectors[0][static_cast<std::size_t>(i)].real();
    x[static_cast<std::size_t>(i)] = y * isq[static_cast<std::size_t>(i)];
    zl[static_cast<std::size_t>(i)] = y / isq[static_cast<std::size_t>(i)];
  }
  const std::vector<cd> px = apply_complex(n, x, [&](const double* a, double* o) { apply_block(b, a, o); });
  c.residual = relative_residual(px, x, c.value);
  c.condition = condition_number(x, zl);
  judge(c, 0.0);
  return c;
}

// A non-symmetric block of more than dense_limit tokens: Arnoldi on P_CC (deflated when closed),
// then on P_CC^T for the left eigenvector of the same eigenvalue.
// A non-symmetric block of more than dense_limit tokens: Arnoldi on P_CC (deflated when closed)
// for the right eigenvector, and on P_CC^T for the left one of the same eigenvalue. The two runs
// are independent and run side by side: each one's serial basis updates overlap the other's
// parallel products.
Candidate arnoldi_block(const Block& b, const SpectralOptions& opt, StageReporter& rep) {
  const std::int64_t n = static_cast<std::int64_t>(b.tokens.size());
  detail::RealProject project;
  if (b.closed) project = [&](double* x) { subtract_mean(n, x); };
  auto op = [&](const double* x, double* y) {
    apply_block(b, x, y);
    if (b.closed) subtract_mean(n, y);  // B = (I - 1 1^T / n) P_CC: P_CC less one copy of 1
    rep.tick();
  };
  // B^T = P_CC^T (I - 1 1^T / n) has B's spectrum; its eigenvectors are P_CC's left ones.
  std::vector<double> scratch(static_cast<std::size_t>(n));
  auto op_t = [&](const double* xin, double* y) {
    if (b.closed) {
      std::copy(xin, xin + n, scratch.begin());
      subtract_mean(n, scratch.data());
      apply_block_transposed(b, scratch.data(), y);
    } else {
      apply_block_transposed(b, xin, y);
    }
    rep.tick();
  };
  // nev = 1: restarts then keep half the basis (ARPACK's rule), which converges a spectrum that
  // fills a disc (the recipe's) in about 2.5x fewer products than asking for 3 eigenvalues.
  detail::SolverOptions so;
  so.nev = 1;
  so.ncv = opt.krylov_dim;
  so.tol = opt.tol;
  so.max_matvecs = opt.max_iterations;
  so.seed = opt.seed;
  detail::SolverOptions so_t = so;
  so_t.seed = opt.seed + 1;
  so_t.tol = std::max(opt.tol, 1e-8);  // enough for kappa and to match the eigenvalue
  detail::EigenResult r, lr;
  tbb::parallel_invoke(
      [&] { r = detail::general_eigs(n, op, project, detail::Which::largest_modulus, so); },
      [&] { lr = detail::general_eigs(n, op_t, project, detail::Which::largest_modulus, so_t); });
  Candidate c;
  c.method = "arnoldi";
  c.matvecs = r.matvecs + lr.matvecs;
  c.restarts = r.restarts;
  c.converged = r.converged && !r.values.empty();
  if (r.values.empty()) {
    c.value = std::numeric_limits<double>::quiet_NaN();
    c.reliable = false;
    c.note = "Arnoldi did not converge: raise --max-iter";
    return c;
  }
  c.value = r.values[0];
  const auto apply_p = [&](const double* a, double* o) { apply_block(b, a, o); };
  // An eigenvector of P_CC from the deflated one: B x = l x gives P x = l x + c 1, so
  // y = x + c / (l - 1) 1 satisfies P y = l y.
  std::vector<cd> x = r.vectors[0];
  std::vector<cd> px = apply_complex(n, x, apply_p);
  if (b.closed && std::abs(c.value - 1.0) > 1e-6) {
    const cd shift = parallel_sum(n, px.data()) / static_cast<double>(n) / (c.value - 1.0);
    for (auto& e : x) e += shift;
    for (auto& e : px) e += shift;  // P 1 = 1
  }
  c.residual = relative_residual(px, x, c.value);
  // The left run's eigenvalue must be the same (or its conjugate, whose eigenvector is conj(z)).
  std::optional<std::vector<cd>> z;
  cd left_value = std::numeric_limits<double>::quiet_NaN();
  const double match = 1e-6 * std::max(1.0, std::abs(c.value));
  if (!lr.values.empty()) {
    left_value = lr.values[0];
    if (std::abs(left_value - c.value) <= match) {
      z = lr.vectors[0];
    } else if (std::abs(std::conj(left_value) - c.value) <= match) {
      z = lr.vectors[0];
      for (auto& e : *z) e = std::conj(e);
      left_value = std::conj(left_value);
    }
  }
  if (!z) {
    c.reliable = false;
    c.note = cat("ill-conditioned: Arnoldi on P and on its transpose disagree (", c.value, " against ",
                 left_value, "); P is far from normal and this value lies in its pseudospectrum");
    return c;
  }
  const std::vector<cd> ptz =
      apply_complex(n, *z, [&](const double* a, double* o) { apply_block_transposed(b, a, o); });
  c.condition = condition_number(x, *z);
  judge(c, relative_residual(ptz, *z, left_value));
  return c;
}

void transition_part(const Csr& g, const SpectralOptions& opt, SpectralResult& res, const Stopwatch& clock) {
  const std::int64_t n = g.num_nodes();
  std::int32_t count = 0;
  const std::vector<std::int32_t> comp = graphs::strong_component_ids(g, &count);
  res.strong_components = count;
  std::vector<std::vector<std::int32_t>> members(static_cast<std::size_t>(count));
  std::vector<std::int32_t> local_id(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    auto& m = members[static_cast<std::size_t>(comp[static_cast<std::size_t>(i)])];
    local_id[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(m.size());
    m.push_back(static_cast<std::int32_t>(i));
  }
  StageReporter rep{opt, clock, "transition"};
  std::vector<Candidate> cands;
  bool all_symmetric = true;
  for (std::int32_t c = 0; c < count; ++c) {
    auto& tokens = members[static_cast<std::size_t>(c)];
    res.largest_component =
        std::max<std::int64_t>(res.largest_component, static_cast<std::int64_t>(tokens.size()));
    if (tokens.size() == 1) {  // a 1 x 1 block: P's diagonal entry, exactly
      const std::int32_t t = tokens[0];
      const std::int64_t d = g.degree(t);
      const bool self = d == 0 || g.has_edge(t, t);
      Candidate one;
      one.value = d == 0 ? 1.0 : (self ? 1.0 / static_cast<double>(d) : 0.0);
      one.unit = d == 0 || (self && d == 1);
      one.method = "structural";
      res.closed_classes += one.unit;
      if (d > 0 && !(self && d == 1)) all_symmetric = false;
      cands.push_back(one);
      continue;
    }
    Block b = make_block(g, std::move(tokens), local_id, comp, c);
    res.closed_classes += b.closed;
    all_symmetric = all_symmetric && b.symmetric;
    const auto size = static_cast<std::int64_t>(b.tokens.size());
    if (size <= std::max<std::int64_t>(opt.dense_limit, 16)) {
      const std::vector<Candidate> d = dense_block(b);
      cands.insert(cands.end(), d.begin(), d.end());
      continue;
    }
    if (b.closed) {
      Candidate one;
      one.value = 1.0;
      one.unit = true;
      one.method = b.symmetric ? "lanczos" : "arnoldi";
      cands.push_back(one);
    }
    if (b.symmetric) {
      cands.push_back(lanczos_block(b, opt, rep));
    } else {
      cands.push_back(arnoldi_block(b, opt, rep));
    }
  }
  rep.done();
  res.symmetric = all_symmetric && res.strong_components == res.closed_classes;
  // lambda_2: the largest modulus once one eigenvalue 1 (of some closed block) is set aside.
  // A block that did not converge hides its eigenvalue: it sorts first (NaN) and makes lambda_2 unknown.
  auto key = [](const Candidate& c) {
    const double m = std::abs(c.value);
    return std::isnan(m) ? std::numeric_limits<double>::infinity() : m;
  };
  std::stable_sort(cands.begin(), cands.end(), [&](const Candidate& a, const Candidate& b) {
    if (a.unit != b.unit) return a.unit;
    return key(a) > key(b);
  });
  for (const Candidate& c : cands) res.transition.iterations += c.matvecs;
  for (const Candidate& c : cands) res.transition.restarts += c.restarts;
  if (cands.size() < 2 || !cands[0].unit) throw Error("spectral: no closed class found (internal error)");
  const Candidate& l2 = cands[1];
  res.lambda2 = l2.value;
  res.lambda2_modulus = std::abs(l2.value);
  res.spectral_gap = 1.0 - res.lambda2_modulus;
  res.transition.value = res.lambda2_modulus;
  res.transition.residual = l2.residual;
  res.transition.converged = l2.converged;
  for (const Candidate& c : cands) res.transition.converged = res.transition.converged && c.converged;
  res.lambda2_method = l2.method;
  res.lambda2_condition = l2.condition;
  res.lambda2_error_bound = l2.condition ? *l2.condition * std::max(l2.residual, kFloorResidual) : 0.0;
  res.lambda2_reliable = l2.reliable && l2.converged && std::isfinite(res.lambda2_modulus);
  res.lambda2_note = l2.note;
  if (l2.unit && res.closed_classes > 1)
    res.lambda2_note = cat(res.closed_classes,
                           " closed classes (groups of tokens that attend only among "
                           "themselves): the eigenvalue 1 is repeated, the gap is 0");
  else if (l2.method == "structural" && res.lambda2_note.empty())
    res.lambda2_note = res.strong_components == n
                           ? "P is triangular up to a reordering of the tokens (no cycles besides self "
                             "loops): its eigenvalues are its diagonal entries, exactly; they do not tell "
                             "how fast attention spreads (see the mixing profile)"
                           : "a single token's diagonal entry of P, exact";
}

// ---- the symmetrized graph ----------------------------------------------------------------

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
      for (const std::int32_t w : s.neighbors(v))
        if (!seen[static_cast<std::size_t>(w)]) {
          seen[static_cast<std::size_t>(w)] = 1;
          stack.push_back(w);
        }
    }
  }
  return count;
}

EigenEstimate symmetric_eigen(const CsrView& s, const std::vector<double>& inv_sqrt,
                              const std::vector<double>& u, detail::Which which, const SpectralOptions& opt,
                              StageReporter& rep) {
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
    rep.tick();
  };
  EigenEstimate e;
  std::vector<double> x(static_cast<std::size_t>(n));
  double mu = 0;
  if (n <= std::max<std::int64_t>(opt.dense_limit, 16)) {
    // Dense: M on the orthogonal complement of u, through a Householder reflection H (H u = e_1):
    // the trailing block of H M H.
    Eigen::MatrixXd M(n, n);
    std::vector<double> ej(static_cast<std::size_t>(n)), col(static_cast<std::size_t>(n));
    for (std::int64_t j = 0; j < n; ++j) {
      std::fill(ej.begin(), ej.end(), 0.0);
      ej[static_cast<std::size_t>(j)] = 1.0;
      apply_normalized(s, inv_sqrt, ej.data(), col.data(), z);
      for (std::int64_t i = 0; i < n; ++i) M(i, j) = col[static_cast<std::size_t>(i)];
    }
    Eigen::VectorXd w = Eigen::Map<const Eigen::VectorXd>(u.data(), n);
    w(0) += w(0) >= 0 ? 1.0 : -1.0;  // u has unit norm (or is 0 for an edgeless graph)
    const double wn = w.squaredNorm();
    Eigen::MatrixXd H = Eigen::MatrixXd::Identity(n, n);
    if (wn > 0) H -= 2.0 * w * w.transpose() / wn;
    const Eigen::MatrixXd T = H * M * H;
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(
        (T.bottomRightCorner(n - 1, n - 1) + T.bottomRightCorner(n - 1, n - 1).transpose()) * 0.5);
    const Eigen::Index k = which == detail::Which::largest_real ? n - 2 : 0;
    mu = es.eigenvalues()(k);
    Eigen::VectorXd y = Eigen::VectorXd::Zero(n);
    y.tail(n - 1) = es.eigenvectors().col(k);
    const Eigen::VectorXd v = H * y;
    for (std::int64_t i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = v(i);
    e.converged = true;
  } else {
    detail::SolverOptions so;
    so.nev = 1;  // restarts keep half the basis (see arnoldi_block)
    so.ncv = opt.krylov_dim;
    so.tol = opt.tol;
    so.max_matvecs = opt.max_iterations;
    so.seed = opt.seed;
    const detail::EigenResult kr = detail::symmetric_eigs(n, op, project, which, so);
    e.iterations = kr.matvecs;
    e.restarts = kr.restarts;
    e.converged = kr.converged && !kr.values.empty();
    if (kr.values.empty()) {
      e.value = std::numeric_limits<double>::quiet_NaN();
      e.residual = std::numeric_limits<double>::quiet_NaN();
      return e;
    }
    mu = kr.values[0].real();
    for (std::int64_t i = 0; i < n; ++i)
      x[static_cast<std::size_t>(i)] = kr.vectors[0][static_cast<std::size_t>(i)].real();
  }
  e.value = 1.0 - mu;  // eigenvalue of L = I - M
  std::vector<double> mx(static_cast<std::size_t>(n));
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
  StageReporter rep2{opt, clock, "laplacian-lambda2"};
  if (res.components > 1) {
    // Each component adds an eigenvalue 0 (isolated tokens too, by the usual convention).
    res.laplacian_lambda2 = EigenEstimate{0.0, 0, 0, 0.0, true};
  } else {
    res.laplacian_lambda2 = symmetric_eigen(sv, inv_sqrt, u, detail::Which::largest_real, opt, rep2);
  }
  rep2.done();
  // The Ramanujan comparison also needs the most negative eigenvalue of M = I - L: the largest
  // of L (deflating u is harmless there). Only computed where the bound applies.
  const double d = res.degree_mean;
  if (res.near_regular && d >= 2.0) {
    StageReporter repm{opt, clock, "laplacian-max"};
    res.ramanujan_bound = 2.0 * std::sqrt(d - 1.0) / d;
    res.laplacian_lambda_max = symmetric_eigen(sv, inv_sqrt, u, detail::Which::smallest_real, opt, repm);
    res.has_lambda_max = true;
    repm.done();
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
  if (opt.dense_limit < 0) throw UsageError(cat("dense limit must be >= 0, got ", opt.dense_limit));
  const std::int64_t basis = std::min<std::int64_t>(opt.krylov_dim + 1, n);
  // Basis and work vectors of two Arnoldi runs, a copy and a transpose of the graph, the
  // symmetrized graph.
  require_memory(n * basis * 8 * 2 + n * 96 + g.num_edges() * 24,
                 cat("spectral: Krylov basis of ", basis, " vectors of ", n, " plus copies of the graph"));
  const Stopwatch clock;
  SpectralResult res;
  res.nodes = n;
  res.edges = g.num_edges();
  for (std::int64_t i = 0; i < n; ++i) res.empty_rows += g.degree(i) == 0;
  transition_part(g, opt, res, clock);
  if (opt.laplacian) laplacian_part(g, opt, res, clock);
  if (opt.mixing_hops > 0) {
    MixingOptions mo;
    mo.max_hops = opt.mixing_hops;
    mo.sample = opt.mixing_sample;
    mo.seed = opt.seed;
    mo.progress = [&](int k, int) {
      if (opt.progress) opt.progress({"mixing", k, false, clock.seconds()});
    };
    res.mixing = mixing_profile(g, mo);
    if (opt.progress)
      opt.progress({"mixing", static_cast<std::int64_t>(res.mixing->hops.size()), true, clock.seconds()});
  }
  res.seconds = clock.seconds();
  return res;
}

}  // namespace diffuser::diffusion
