// diffuser._core.reach / spectral / mass: the analysis of docs/ANALYSIS.md, returned as dicts with
// the fields of the CLI's --json output (lists become NumPy arrays where they are numbers).
#include <optional>
#include <vector>

#include <pybind11/stl.h>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/diffusion/mass.hpp>
#include <diffuser/diffusion/reach.hpp>
#include <diffuser/diffusion/spectral.hpp>
#include <diffuser/engine/error.hpp>

#include "analysis_json.hpp"
#include "arrays.hpp"
#include "coefficients.hpp"
#include "graph.hpp"
#include "json_python.hpp"
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
  py::dict d(to_python(cli::reach_json(g.source(), r, Device::cpu, used)));
  if (!r.exact) d["sampled"] = to_list(r.sampled);
  return d;
}

py::dict spectral(const Graph& g, double tol, std::int64_t max_iter, int krylov_dim, bool laplacian,
                  std::int64_t seed, int mixing_hops, std::optional<std::int64_t> mixing_sample,
                  std::optional<int> threads) {
  if (mixing_hops < 0 || mixing_hops > 4096)
    throw Error(cat("mixing_hops must be in [0, 4096], got ", mixing_hops));
  if (mixing_sample && *mixing_sample < 1)
    throw Error(cat("mixing_sample must be >= 1, got ", *mixing_sample));
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
  return py::dict(to_python(cli::spectral_json(g.source(), r, used)));
}

// Softmax attention weights (E, H) from q and k for the analysis; empty when neither is given.
Matrix<float> weights_from(const Graph& g, py::handle q, py::handle k) {
  if (q.is_none() != k.is_none())
    throw Error("q and k go together (softmax attention), or neither (uniform)");
  if (q.is_none()) return {};
  const ArrayRef qa = array_ref(q, "q"), ka = array_ref(k, "k");
  const Features qf = host_features(qa);
  if (ka.shape != qa.shape)
    throw Error(cat("k has shape ", ka.shape_text(), " but q has ", qa.shape_text(),
                    "; q and k must have one shape (N, H, D)"));
  const Features kf = host_features(ka);
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
  return py::dict(to_python(cli::mass_json(g.source(), r, c, used)));
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
