// CPU instruction-set levels of the CPU backend. The hot kernels are compiled once per level in
// one binary and the level is chosen at run time (the execution context's cpu_isa, by default the
// best level this CPU runs), as NumPy, OpenBLAS and oneDNN do.
//
//   generic  the architecture's baseline: x86-64 (SSE2), or aarch64 (NEON)
//   avx2     x86-64-v3: AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE
//   avx512   x86-64-v4: AVX-512 F, BW, CD, DQ, VL (and everything of avx2)
//
// Results are bitwise identical across thread counts at each level; across levels they agree to
// about 1e-6 relative (vector widths and FMA contraction change the rounding; docs/ARCHITECTURE.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace diffuser {

enum class CpuIsa { generic = 0, avx2 = 3, avx512 = 4 };

// "generic", "avx2", "avx512".
const char* cpu_isa_name(CpuIsa isa);
// One line for humans: "avx512 (x86-64-v4: AVX-512 F/BW/CD/DQ/VL)".
std::string cpu_isa_description(CpuIsa isa);
// Parses a level name (also "x86-64-v3", "x86-64-v4", "baseline"); throws UsageError naming the
// value and the choices otherwise.
CpuIsa parse_cpu_isa(std::string_view name);

// This build has kernels for the level.
bool cpu_isa_compiled(CpuIsa isa);
// This CPU and its operating system run the level (cpuid and the enabled register state).
bool cpu_isa_supported(CpuIsa isa);
// Compiled and supported, ascending; never empty (a native build has exactly one level).
std::vector<CpuIsa> cpu_isa_levels();
// The highest of cpu_isa_levels().
CpuIsa cpu_isa_best();
// Throws UsageError saying why when the level cannot run here ("avx512: this CPU lacks it (best:
// avx2)", "avx2: not compiled in this build (native build for avx512)").
void require_cpu_isa(CpuIsa isa);

}  // namespace diffuser
