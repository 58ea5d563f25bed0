// The analyses behind one pattern of the report: graph statistics, reach, spectral (with the
// mixing profile) and diffusion mass.
#include <diffuser/engine/sys.hpp>
#include <diffuser/graphs/pattern.hpp>
#include <diffuser/viz/report.hpp>

namespace diffuser::viz {

PatternReport analyse_pattern(const std::string& label, const std::string& spec, const AnalysisOptions& o) {
  auto part = [&](const char* name) {
    if (o.progress) o.progress(name);
  };
  const Stopwatch sw;
  PatternReport r;
  r.label = label;
  r.spec = spec;
  part("graph");
  r.graph = graphs::build_pattern(spec, o.n, o.seed);
  r.stats = graphs::graph_stats(r.graph);
  part("reach");
  diffusion::ReachOptions ro;
  ro.max_hops = o.max_hops;
  ro.seed = o.seed;
  r.reach = diffusion::reach(r.graph, ro);
  part("spectral");
  diffusion::SpectralOptions so;
  so.seed = o.seed;
  r.spectral = diffusion::spectral(r.graph, so);
  part("mass");
  diffusion::MassOptions mo;
  mo.seed = o.seed;
  r.mass = diffusion::diffusion_mass(r.graph, o.coefficients, {}, mo);
  r.seconds = sw.seconds();
  return r;
}

}  // namespace diffuser::viz
