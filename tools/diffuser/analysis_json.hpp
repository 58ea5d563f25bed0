// The --json documents of `graph` (statistics), `reach`, `spectral` and `mass`, one definition for
// the CLI and the Python package (which turns them into dicts).
#pragma once

#include <string>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/diffusion/mass.hpp>
#include <diffuser/diffusion/reach.hpp>
#include <diffuser/diffusion/spectral.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/graphs/stats.hpp>

#include "json_out.hpp"

namespace diffuser::cli {

Json graph_stats_json(const std::string& source, const graphs::GraphStats& s, double build_ms);
Json reach_json(const std::string& source, const diffusion::ReachResult& r, Device dev, int threads);
Json spectral_json(const std::string& source, const diffusion::SpectralResult& r, int threads);
Json mass_json(const std::string& source, const diffusion::MassResult& r, const diffusion::Coefficients& c,
               int threads);

}  // namespace diffuser::cli
