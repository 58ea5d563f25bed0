// diffuser._core.reach / spectral / mass: the analysis of docs/ANALYSIS.md, returned as dicts with
// the fields of the CLI's --json output (lists become NumPy arrays where they are numbers).
#include <complex>
#include <optional>
#include <vector>

#include <pybind11/stl.h>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/diffusion/mass.hpp>
#include <diffuser/diffusion/reach.hpp>
#include <diffuser/diffusion/spectral.hpp>
#include <diffuser/engine/error.hpp>

#include "arrays.hpp"
#include "coefficients.hpp"
#include "graph.hpp"
#include "runtime.hpp"

namespace diffuser::python {

namespace py = pybind11;

namespace {

// Lists of numbers: the Python layer makes NumPy arrays of them (the extension itself does not
// depend on NumPy's C API, so one build serves NumPy 1 and 2).
template <class T>
py::list to_list(const std::vector<T>& v) {
  py::list l;
  for (const T& x : v) l.append(x);
  return l;
}

py::object or_none(bool present, py::object v) {
  return present ? std::move(v) : py::none();
}

void require_tokens(const Graph& g, std::int64_t at_least, const char* why) {
  if (g.csr().num_nodes() < at_least)
    throw Error(cat(why, " needs at least ", at_least, " tokens; the graph (", g.source(), ") has ",
                    g.csr().num_nodes()));
}

void check_sampling(std::optional<std::int64_t> sample, bool exact, double confidence) {
  if (sample && exact) throw Error("sample and exact exclude each other");
  if (sample && *sample < 1) throw Error(cat("sample must be >= 1, got ", *sample));
  if (!(confidence > 0.0 && confidence < 1.0))
    throw Error(cat("confidence must be in (0, 1), got ", confidence));
}

py::dict reach(const Graph& g, int max_hops, std::optional<std::int64_t> sample, bool exact,
               std::int64_t seed, double confidence, std::optional<int> threads) {
  if (max_hops < 1 || max_hops > diffusion::kMaxReachHops)
    throw Error(cat("max_hops must be in [1, ", diffusion::kMaxReachHops, "], got ", max_hops));
  check_sampling(sample, exact, confidence);
  if (seed < 0) throw Error(cat("seed must be >= 0, got ", seed));
  require_tokens(g, 2, "reachability");
  diffusion::ReachOptions opt;
  opt.max_hops = max_hops;
  opt.sample = exact ? 0 : sample.value_or(-1);
  opt.seed = static_cast<std::uint64_t>(seed);
  opt.confidence = confidence;
  diffusion::ReachResult r;
  int used = 0;
  run_engine(threads, [&] {
    r = diffusion::reach(g.csr(), opt);
    used = current_context().cpu_threads();
  });
  py::dict d;
  d["source"] = g.source();
  d["nodes"] = r.nodes;
  d["edges"] = r.edges;
  d["max_hops"] = r.max_hops;
  d["exact"] = r.exact;
  d["sample_sources"] = or_none(!r.exact, py::int_(r.sample_sources));
  d["confidence"] = or_none(!r.exact, py::float_(r.confidence));
  d["coverage_half_width"] = or_none(!r.exact, py::float_(r.coverage_half_width));
  d["receptive_field_mean_half_width"] = or_none(!r.exact, py::float_(r.field_mean_half_width));
  d["coverage"] = to_list(r.coverage);
  py::list fields;
  for (int k = 1; k <= r.max_hops; ++k) {
    const auto& f = r.receptive_field[static_cast<std::size_t>(k - 1)];
    py::dict e;
    e["hops"] = k;
    e["min"] = f.min;
    e["mean"] = f.mean;
    e["max"] = f.max;
    fields.append(e);
  }
  d["receptive_field"] = fields;
  std::vector<std::int64_t> pairs;
  if (r.pairs_at_distance.size() > 1)
    pairs.assign(r.pairs_at_distance.begin() + 1, r.pairs_at_distance.end());
  d["pairs_at_distance"] = to_list(pairs);
  d["full_coverage_hops"] = r.full_coverage_hops ? py::object(py::int_(*r.full_coverage_hops)) : py::none();
  d["diameter"] = r.diameter;
  d["diameter_is_lower_bound"] = !r.exact;
  d["unreachable_pairs"] = r.unreachable_pairs;
  d["unreachable_fraction"] = r.unreachable_fraction;
  if (!r.exact) d["sampled"] = to_list(r.sampled);
  d["backend"] = "cpu";
  d["threads"] = used;
  d["seconds"] = r.seconds;
  return d;
}

py::dict spectral(const Graph& g, double tol, std::int64_t max_iter, int krylov_dim, bool laplacian,
                  std::int64_t seed, int mixing_hops, std::optional<std::int64_t> mixing_sample,
                  std::optional<int> threads) {
  if (mixing_hops < 0 || mixing_hops > 4096)
    throw Error(cat("mixing_hops must be in [0, 4096], got ", mixing_hops));
  if (mixing_sample && *mixing_sample < 1) throw Error(cat("mixing_sample must be >= 1, got ", *mixing_sample));
  if (!(tol > 0.0 && tol < 1.0)) throw Error(cat("tol must be in (0, 1), got ", tol));
  if (max_iter < 1) throw Error(cat("max_iter must be >= 1, got ", max_iter));
  if (krylov_dim < 4 || krylov_dim > 1000)
    throw Error(cat("krylov_dim must be in [4, 1000], got ", krylov_dim));
  if (seed < 0) throw Error(cat("seed must be >= 0, got ", seed));
  require_tokens(g, 2, "a spectral gap");
  diffusion::SpectralOptions opt;
  opt.tol = tol;
  opt.max_iterations = max_iter;
  opt.krylov_dim = krylov_dim;
  opt.laplacian = laplacian;
  opt.seed = static_cast<std::uint64_t>(seed);
  opt.mixing_hops = mixing_hops;
  opt.mixing_sample = mixing_sample.value_or(-1);
  diffusion::SpectralResult r;
  int used = 0;
  run_engine(threads, [&] {
    r = diffusion::spectral(g.csr(), opt);
    used = current_context().cpu_threads();
  });
  py::dict d;
  d["source"] = g.source();
  d["nodes"] = r.nodes;
  d["edges"] = r.edges;
  d["empty_rows"] = r.empty_rows;
  // As the CLI: lambda2 and the gap only when the eigenvalue problem is well-conditioned; the
  // computed value, its condition and the reason are there either way.
  const auto complex_dict = [](std::complex<double> z) {
    py::dict c;
    c["re"] = z.real();
    c["im"] = z.imag();
    return c;
  };
  const bool ok = r.lambda2_reliable;
  d["lambda2"] = or_none(ok, complex_dict(r.lambda2));
  d["lambda2_modulus"] = or_none(ok, py::float_(r.lambda2_modulus));
  d["spectral_gap"] = or_none(ok, py::float_(r.spectral_gap));
  d["lambda2_computed"] = complex_dict(r.lambda2);
  d["lambda2_reliable"] = ok;
  d["lambda2_method"] = r.lambda2_method;
  d["lambda2_condition"] = r.lambda2_condition ? py::object(py::float_(*r.lambda2_condition)) : py::none();
  d["lambda2_error_bound"] = r.lambda2_error_bound;
  d["lambda2_note"] = r.lambda2_note;
  d["strong_components"] = r.strong_components;
  d["closed_classes"] = r.closed_classes;
  d["largest_component"] = r.largest_component;
  d["symmetric"] = r.symmetric;
  d["iterations"] = r.transition.iterations;
  d["restarts"] = r.transition.restarts;
  d["residual"] = r.transition.residual;
  d["converged"] = r.transition.converged;
  if (!r.has_laplacian) {
    d["laplacian"] = py::none();
  } else {
    py::dict l;
    l["undirected_edges"] = r.undirected_edges;
    l["components"] = r.components;
    py::dict deg;
    deg["min"] = r.degree_min;
    deg["mean"] = r.degree_mean;
    deg["max"] = r.degree_max;
    deg["cv"] = r.degree_cv;
    l["degree"] = deg;
    l["near_regular"] = r.near_regular;
    const auto& a = r.laplacian_lambda2;
    l["lambda2"] = a.value;
    l["lambda2_residual"] = a.residual;
    l["lambda2_iterations"] = a.iterations;
    l["lambda2_converged"] = a.converged;
    const auto& b = r.laplacian_lambda_max;
    const bool m = r.has_lambda_max;
    l["lambda_max"] = or_none(m, py::float_(b.value));
    l["lambda_max_residual"] = or_none(m, py::float_(b.residual));
    l["lambda_max_iterations"] = or_none(m, py::int_(b.iterations));
    l["lambda_max_converged"] = or_none(m, py::bool_(b.converged));
    l["adjacency_nontrivial"] = or_none(m, py::float_(r.adjacency_nontrivial));
    l["ramanujan_bound"] = r.ramanujan_bound ? py::object(py::float_(*r.ramanujan_bound)) : py::none();
    d["laplacian"] = l;
  }
  if (!r.mixing) {
    d["mixing"] = py::none();
  } else {
    const auto& m = *r.mixing;
    py::dict x;
    x["exact"] = m.exact;
    x["sample_sources"] = or_none(!m.exact, py::int_(m.sample_sources));
    x["half_width"] = or_none(!m.exact, py::float_(m.half_width));
    py::list hops;
    for (const auto& h : m.hops) {
      py::dict e;
      e["k"] = h.k;
      e["mean"] = h.mean;
      e["max"] = h.max;
      hops.append(e);
    }
    x["hops"] = hops;
    x["mixing_hops"] = m.mixing_hops ? py::object(py::int_(*m.mixing_hops)) : py::none();
    x["seconds"] = m.seconds;
    d["mixing"] = x;
  }
  d["threads"] = used;
  d["seconds"] = r.seconds;
  return d;
}

// Softmax attention weights (E, H) from q and k for the analysis; empty when neither is given.
Matrix<float> weights_from(const Graph& g, py::handle q, py::handle k) {
  if (q.is_none() != k.is_none())
    throw Error("q and k go together (softmax attention), or neither (uniform)");
  if (q.is_none()) return {};
  const ArrayRef qa = array_ref(q, "q"), ka = array_ref(k, "k");
  const Features qf = features(qa);
  if (ka.shape != qa.shape)
    throw Error(cat("k has shape ", ka.shape_text(), " but q has ", qa.shape_text(),
                    "; q and k must have one shape (N, H, D)"));
  const Features kf = features(ka);
  if (qa.shape[0] != g.csr().num_nodes())
    throw Error(cat("q has ", qa.shape[0], " tokens but the graph has ", g.csr().num_nodes()));
  Matrix<float> w;
  run_engine(std::nullopt, [&] {
    diffusion::check_finite(qf.view, "q");
    diffusion::check_finite(kf.view, "k");
    w = diffusion::attention_weights(g.csr(), qf.view, kf.view);
  });
  return w;
}

py::dict mass(const Graph& g, int hops, double alpha, std::optional<std::vector<double>> theta,
              std::optional<double> heat, py::handle q, py::handle k, std::optional<std::int64_t> sample,
              bool exact, std::int64_t seed, double confidence, std::optional<int> threads) {
  const diffusion::Coefficients c = coefficients(hops, alpha, theta, heat);
  check_sampling(sample, exact, confidence);
  if (seed < 0) throw Error(cat("seed must be >= 0, got ", seed));
  check_threads(threads);
  require_tokens(g, 1, "diffusion mass");
  const Matrix<float> w = weights_from(g, q, k);
  diffusion::MassOptions opt;
  opt.sample = exact ? 0 : sample.value_or(-1);
  opt.seed = static_cast<std::uint64_t>(seed);
  opt.confidence = confidence;
  diffusion::MassResult r;
  int used = 0;
  run_engine(threads, [&] {
    r = diffusion::diffusion_mass(g.csr(), c, w.view(), opt);
    used = current_context().cpu_threads();
  });
  py::dict d;
  d["source"] = g.source();
  d["nodes"] = r.nodes;
  d["edges"] = r.edges;
  d["attention"] = r.uniform ? "uniform" : "softmax";
  d["heads"] = r.heads;
  d["coefficients"] = c.describe();
  d["hops"] = c.hops();
  d["exact"] = r.exact;
  d["sample_sources"] = or_none(!r.exact, py::int_(r.sample_sources));
  d["confidence"] = or_none(!r.exact, py::float_(r.confidence));
  d["half_width"] = or_none(!r.exact, py::float_(r.half_width));
  py::list per_hop;
  for (const auto& h : r.hops) {
    py::dict e;
    e["k"] = h.k;
    e["theta"] = h.theta;
    e["mean"] = h.mean;
    e["min"] = h.min;
    e["max"] = h.max;
    e["contribution"] = h.contribution;
    per_hop.append(e);
  }
  d["per_hop"] = per_hop;
  d["outside_mass"] = r.outside_mass;
  d["outside_mass_min"] = r.outside_min;
  d["outside_mass_max"] = r.outside_max;
  d["outside_mass_per_head"] = to_list(r.outside_mass_per_head);
  d["beyond_one_hop_theta"] = r.beyond_one_hop_theta;
  d["threads"] = used;
  d["seconds"] = r.seconds;
  return d;
}

}  // namespace

void bind_analysis(py::module_& m) {
  m.def("reach", &reach, py::arg("graph"), py::arg("max_hops"), py::arg("sample"), py::arg("exact"),
        py::arg("seed"), py::arg("confidence"), py::arg("threads"));
  m.def("spectral", &spectral, py::arg("graph"), py::arg("tol"), py::arg("max_iter"), py::arg("krylov_dim"),
        py::arg("laplacian"), py::arg("seed"), py::arg("mixing_hops"), py::arg("mixing_sample"),
        py::arg("threads"));
  m.def("mass", &mass, py::arg("graph"), py::arg("hops"), py::arg("alpha"), py::arg("theta"), py::arg("heat"),
        py::arg("q"), py::arg("k"), py::arg("sample"), py::arg("exact"), py::arg("seed"),
        py::arg("confidence"), py::arg("threads"));
}

}  // namespace diffuser::python
