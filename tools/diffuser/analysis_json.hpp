// The --json documents of `reach`, `spectral` and `mass`, one definition for the CLI and the
// Python package (which turns them into dicts).
#pragma once

#include <string>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/diffusion/mass.hpp>
#include <diffuser/diffusion/reach.hpp>
#include <diffuser/diffusion/spectral.hpp>
#include <diffuser/engine/device.hpp>

#include "json_out.hpp"

namespace diffuser::cli {

Json reach_json(const std::string& source, const diffusion::ReachResult& r, Device dev, int threads);
Json spectral_json(const std::string& source, const diffusion::SpectralResult& r, int threads);
Json mass_json(const std::string& source, const diffusion::MassResult& r, const diffusion::Coefficients& c,
               int threads);

}  // namespace diffuser::cli
