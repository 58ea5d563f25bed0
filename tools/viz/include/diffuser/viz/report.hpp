// The self-contained HTML report of `diffuser report`: patterns side by side (statistics, degree
// histogram, pattern picture, coverage-vs-hops curves, spectral gap, diffusion mass), inline SVG
// and CSS only, so the file opens anywhere without a network.
#pragma once

#include <string>
#include <vector>

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

struct ReportMeta {
  std::string title;
  std::int64_t n = 0;
  std::uint64_t seed = 0;
  std::string coefficients;  // of the mass section
  std::string command;       // the command line, for reproduction
};

std::string render_report(const std::vector<PatternReport>& patterns, const ReportMeta& meta);

}  // namespace diffuser::viz
