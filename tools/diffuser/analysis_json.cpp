// The --json documents of graph statistics, reach, spectral and mass (docs/CLI.md and
// docs/ANALYSIS.md list their fields), shared by the CLI and the Python package so that both give
// the same fields under the same names.
#include <complex>

#include "analysis_json.hpp"

namespace diffuser::cli {

namespace {

Json complex_json(std::complex<double> z) {
  return Json{{"re", z.real()}, {"im", z.imag()}};
}

}  // namespace

Json graph_stats_json(const std::string& source, const graphs::GraphStats& s, double build_ms) {
  Json j;
  j["source"] = source;
  j["nodes"] = s.nodes;
  j["edges"] = s.edges;
  j["in_degree"] = Json{{"min", s.in_degree_min}, {"mean", s.in_degree_mean}, {"max", s.in_degree_max}};
  j["out_degree_max"] = s.out_degree_max;
  j["empty_rows"] = s.empty_rows;
  j["self_loops"] = s.self_loops;
  j["symmetric"] = s.symmetric;
  j["density"] = s.density;
  j["build_ms"] = build_ms;
  return j;
}

Json reach_json(const std::string& source, const diffusion::ReachResult& r, Device dev, int threads) {
  Json j;
  j["source"] = source;
  j["nodes"] = r.nodes;
  j["edges"] = r.edges;
  j["max_hops"] = r.max_hops;
  j["exact"] = r.exact;
  j["sample_sources"] = r.exact ? Json(nullptr) : Json(r.sample_sources);
  j["confidence"] = r.exact ? Json(nullptr) : Json(r.confidence);
  j["coverage_half_width"] = r.exact ? Json(nullptr) : Json(r.coverage_half_width);
  j["receptive_field_mean_half_width"] = r.exact ? Json(nullptr) : Json(r.field_mean_half_width);
  j["coverage"] = r.coverage;
  Json fields = Json::array();
  for (int k = 1; k <= r.max_hops; ++k) {
    const auto& f = r.receptive_field[static_cast<std::size_t>(k - 1)];
    fields.push_back(Json{{"hops", k}, {"min", f.min}, {"mean", f.mean}, {"max", f.max}});
  }
  j["receptive_field"] = fields;
  Json pairs = Json::array();
  for (std::size_t d = 1; d < r.pairs_at_distance.size(); ++d) pairs.push_back(r.pairs_at_distance[d]);
  j["pairs_at_distance"] = pairs;
  j["full_coverage_hops"] = json_or_null(r.full_coverage_hops);
  j["diameter"] = r.diameter;
  j["diameter_is_lower_bound"] = !r.exact;
  j["unreachable_pairs"] = r.unreachable_pairs;
  j["unreachable_fraction"] = r.unreachable_fraction;
  j["backend"] = device_name(dev);
  j["threads"] = threads;
  j["seconds"] = r.seconds;
  return j;
}

Json spectral_json(const std::string& source, const diffusion::SpectralResult& r, int threads) {
  Json j;
  j["source"] = source;
  j["nodes"] = r.nodes;
  j["edges"] = r.edges;
  j["empty_rows"] = r.empty_rows;
  const bool ok = r.lambda2_reliable;
  j["lambda2"] = ok ? complex_json(r.lambda2) : Json(nullptr);
  j["lambda2_modulus"] = ok ? Json(r.lambda2_modulus) : Json(nullptr);
  j["spectral_gap"] = ok ? Json(r.spectral_gap) : Json(nullptr);
  j["lambda2_computed"] = complex_json(r.lambda2);
  j["lambda2_reliable"] = ok;
  j["lambda2_method"] = r.lambda2_method;
  j["lambda2_condition"] = json_or_null(r.lambda2_condition);
  j["lambda2_error_bound"] = r.lambda2_error_bound;
  j["lambda2_note"] = r.lambda2_note;
  j["strong_components"] = r.strong_components;
  j["closed_classes"] = r.closed_classes;
  j["largest_component"] = r.largest_component;
  j["symmetric"] = r.symmetric;
  j["iterations"] = r.transition.iterations;
  j["restarts"] = r.transition.restarts;
  j["residual"] = r.transition.residual;
  j["converged"] = r.transition.converged;
  if (!r.has_laplacian) {
    j["laplacian"] = nullptr;
  } else {
    Json l;
    l["undirected_edges"] = r.undirected_edges;
    l["components"] = r.components;
    l["degree"] =
        Json{{"min", r.degree_min}, {"mean", r.degree_mean}, {"max", r.degree_max}, {"cv", r.degree_cv}};
    l["near_regular"] = r.near_regular;
    const auto& a = r.laplacian_lambda2;
    l["lambda2"] = a.value;
    l["lambda2_residual"] = a.residual;
    l["lambda2_iterations"] = a.iterations;
    l["lambda2_converged"] = a.converged;
    const auto& b = r.laplacian_lambda_max;
    l["lambda_max"] = r.has_lambda_max ? Json(b.value) : Json(nullptr);
    l["lambda_max_residual"] = r.has_lambda_max ? Json(b.residual) : Json(nullptr);
    l["lambda_max_iterations"] = r.has_lambda_max ? Json(b.iterations) : Json(nullptr);
    l["lambda_max_converged"] = r.has_lambda_max ? Json(b.converged) : Json(nullptr);
    l["adjacency_nontrivial"] = r.has_lambda_max ? Json(r.adjacency_nontrivial) : Json(nullptr);
    l["ramanujan_bound"] = json_or_null(r.ramanujan_bound);
    j["laplacian"] = l;
  }
  if (!r.mixing) {
    j["mixing"] = nullptr;
  } else {
    const auto& m = *r.mixing;
    Json x;
    x["exact"] = m.exact;
    x["sample_sources"] = m.exact ? Json(nullptr) : Json(m.sample_sources);
    x["half_width"] = m.exact ? Json(nullptr) : Json(m.half_width);
    Json hops = Json::array();
    for (const auto& h : m.hops) hops.push_back(Json{{"k", h.k}, {"mean", h.mean}, {"max", h.max}});
    x["hops"] = hops;
    x["mixing_hops"] = json_or_null(m.mixing_hops);
    x["seconds"] = m.seconds;
    j["mixing"] = x;
  }
  j["threads"] = threads;
  j["seconds"] = r.seconds;
  return j;
}

Json mass_json(const std::string& source, const diffusion::MassResult& r, const diffusion::Coefficients& c,
               int threads) {
  Json j;
  j["source"] = source;
  j["nodes"] = r.nodes;
  j["edges"] = r.edges;
  j["attention"] = r.uniform ? "uniform" : "softmax";
  j["heads"] = r.heads;
  j["coefficients"] = c.describe();
  j["hops"] = c.hops();
  j["exact"] = r.exact;
  j["sample_sources"] = r.exact ? Json(nullptr) : Json(r.sample_sources);
  j["confidence"] = r.exact ? Json(nullptr) : Json(r.confidence);
  j["half_width"] = r.exact ? Json(nullptr) : Json(r.half_width);
  Json hops = Json::array();
  for (const auto& h : r.hops)
    hops.push_back(Json{{"k", h.k},
                        {"theta", h.theta},
                        {"mean", h.mean},
                        {"min", h.min},
                        {"max", h.max},
                        {"contribution", h.contribution}});
  j["per_hop"] = hops;
  j["outside_mass"] = r.outside_mass;
  j["outside_mass_min"] = r.outside_min;
  j["outside_mass_max"] = r.outside_max;
  j["outside_mass_per_head"] = r.outside_mass_per_head;
  j["beyond_one_hop_theta"] = r.beyond_one_hop_theta;
  j["threads"] = threads;
  j["seconds"] = r.seconds;
  return j;
}

}  // namespace diffuser::cli
