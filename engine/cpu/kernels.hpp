// The Kernels of the level being compiled (for the per-level sources, after isa_begin.hpp).
#pragma once

#ifndef DIFFUSER_ISA_NS
#error "include isa_begin.hpp before kernels.hpp"
#endif

namespace diffuser::cpu {
template <CpuIsa>
struct KernelsAt;
}  // namespace diffuser::cpu

#include "kernels.inc"
