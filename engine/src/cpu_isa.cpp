// CPU level detection (cpuid through the compiler's builtins, which also check that the operating
// system saves the vector registers) and the names of the levels.
#include <diffuser/engine/cpu_isa.hpp>
#include <diffuser/engine/error.hpp>

#include "../cpu/levels.hpp"

namespace diffuser {

namespace {

constexpr CpuIsa kAll[] = {CpuIsa::generic, CpuIsa::avx2, CpuIsa::avx512};

bool detect(CpuIsa isa) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  switch (isa) {
    case CpuIsa::generic:
      return true;
    case CpuIsa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
             __builtin_cpu_supports("f16c") && __builtin_cpu_supports("movbe") &&
             __builtin_cpu_supports("lzcnt");
    case CpuIsa::avx512:
      return detect(CpuIsa::avx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512cd") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  }
  return false;
#else
  return isa == CpuIsa::generic;  // other architectures: their baseline (aarch64: NEON)
#endif
}

}  // namespace

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::avx2:
      return "avx2";
    case CpuIsa::avx512:
      return "avx512";
    default:
      return "generic";
  }
}

std::string cpu_isa_description(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::avx2:
      return "avx2 (x86-64-v3: AVX2 + FMA)";
    case CpuIsa::avx512:
      return "avx512 (x86-64-v4: AVX-512 F/BW/CD/DQ/VL)";
    default:
#if defined(__aarch64__)
      return "generic (aarch64 NEON)";
#elif defined(__x86_64__)
      return "generic (x86-64 baseline, SSE2)";
#else
      return "generic";
#endif
  }
}

CpuIsa parse_cpu_isa(std::string_view name) {
  if (name == "generic" || name == "baseline" || name == "x86-64" || name == "neon") return CpuIsa::generic;
  if (name == "avx2" || name == "x86-64-v3") return CpuIsa::avx2;
  if (name == "avx512" || name == "avx-512" || name == "x86-64-v4") return CpuIsa::avx512;
  throw UsageError(cat("unknown CPU level '", name, "' (expected generic, avx2 or avx512)"));
}

bool cpu_isa_compiled(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::avx2:
      return DIFFUSER_CPU_HAVE_AVX2;
    case CpuIsa::avx512:
      return DIFFUSER_CPU_HAVE_AVX512;
    default:
      return DIFFUSER_CPU_HAVE_GENERIC;
  }
}

bool cpu_isa_supported(CpuIsa isa) {
  static const bool supported[3] = {detect(CpuIsa::generic), detect(CpuIsa::avx2), detect(CpuIsa::avx512)};
  return supported[isa == CpuIsa::generic ? 0 : isa == CpuIsa::avx2 ? 1 : 2];
}

std::vector<CpuIsa> cpu_isa_levels() {
  std::vector<CpuIsa> out;
  for (CpuIsa isa : kAll)
    if (cpu_isa_compiled(isa) && cpu_isa_supported(isa)) out.push_back(isa);
  return out;
}

CpuIsa cpu_isa_best() {
  const auto levels = cpu_isa_levels();
  // A native build for a level this CPU lacks has none: it would fault on the first kernel.
  if (levels.empty())
    throw Error(
        "this build was compiled for another CPU (-march=native elsewhere, DIFFUSER_NATIVE=ON): "
        "rebuild with -DDIFFUSER_NATIVE=OFF");
  return levels.back();
}

void require_cpu_isa(CpuIsa isa) {
  if (!cpu_isa_compiled(isa)) {
    std::string have;
    for (CpuIsa l : kAll)
      if (cpu_isa_compiled(l)) have += cat(have.empty() ? "" : ", ", cpu_isa_name(l));
    throw UsageError(
        cat("CPU level ", cpu_isa_name(isa), " is not compiled in this build (it has: ", have, ")"));
  }
  if (!cpu_isa_supported(isa))
    throw UsageError(cat("CPU level ", cpu_isa_name(isa),
                         " is not supported by this CPU (best: ", cpu_isa_name(cpu_isa_best()), ")"));
}

}  // namespace diffuser
