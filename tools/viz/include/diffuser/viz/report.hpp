// The self-contained HTML report of `diffuser report`: patterns side by side (statistics, degree
// histogram, pattern picture, coverage-vs-hops curves, spectral gap, mixing profile, diffusion
// mass), one HTML file with CSS and SVG figures inline, so it opens anywhere without a network.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <diffuser/diffusion/coefficients.hpp>
#include <diffuser/diffusion/mass.hpp>
#include <diffuser/diffusion/reach.hpp>
#include <diffuser/diffusion/spectral.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/graphs/stats.hpp>

namespace diffuser::viz {

struct PatternReport {
  std::string label;  // shown in legends ("recipe")
  std::string spec;   // the pattern expression
  Csr graph;
  graphs::GraphStats stats;
  diffusion::ReachResult reach;
  diffusion::SpectralResult spectral;
  diffusion::MassResult mass;
  double seconds = 0;  // analysis time of this pattern
};

struct AnalysisOptions {
  std::int64_t n = 0;
  std::uint64_t seed = 0;
  int max_hops = 8;                                                             // of the coverage curves
  diffusion::Coefficients coefficients = diffusion::Coefficients::ppr(5, 0.1);  // of the mass section
  // Called as each part starts: "graph", "reach", "spectral", "mass".
  std::function<void(const std::string& part)> progress;
};

// Builds the pattern over n tokens and runs every analysis of the report on it.
PatternReport analyse_pattern(const std::string& label, const std::string& spec,
                              const AnalysisOptions& options);

struct ReportMeta {
  std::string title;
  std::int64_t n = 0;
  std::uint64_t seed = 0;
  std::string coefficients;  // of the mass section
  std::string command;       // the command line, for reproduction
};

std::string render_report(const std::vector<PatternReport>& patterns, const ReportMeta& meta);

}  // namespace diffuser::viz
