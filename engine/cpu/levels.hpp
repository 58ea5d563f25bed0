// Which CPU levels this build compiled kernels for (cmake/cpu_levels.cmake sets the definitions).
// A native build (DIFFUSER_NATIVE, -march=native) compiles one level: the one its flags give.
#pragma once

#if defined(DIFFUSER_CPU_NATIVE)
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512CD__) && defined(__AVX512DQ__) && \
    defined(__AVX512VL__)
#define DIFFUSER_CPU_NATIVE_LEVEL 4
#elif defined(__AVX2__) && defined(__FMA__)
#define DIFFUSER_CPU_NATIVE_LEVEL 3
#else
#define DIFFUSER_CPU_NATIVE_LEVEL 0
#endif
#define DIFFUSER_CPU_HAVE_GENERIC (DIFFUSER_CPU_NATIVE_LEVEL == 0)
#define DIFFUSER_CPU_HAVE_AVX2 (DIFFUSER_CPU_NATIVE_LEVEL == 3)
#define DIFFUSER_CPU_HAVE_AVX512 (DIFFUSER_CPU_NATIVE_LEVEL == 4)
#else
#define DIFFUSER_CPU_HAVE_GENERIC 1
#ifndef DIFFUSER_CPU_HAVE_AVX2
#define DIFFUSER_CPU_HAVE_AVX2 0
#endif
#ifndef DIFFUSER_CPU_HAVE_AVX512
#define DIFFUSER_CPU_HAVE_AVX512 0
#endif
#endif

#include <utility>

#include <diffuser/engine/cpu_isa.hpp>

namespace diffuser::cpu {

// f.template operator()<typename At<isa>::type>() for the compiled levels: At maps a level to the
// struct of its functions (KernelsAt in kernels.inc; the baselines have their own). The context
// has checked that `isa` is compiled and supported.
template <template <CpuIsa> class At, class F>
decltype(auto) with_level(CpuIsa isa, F&& f) {
  switch (isa) {
#if DIFFUSER_CPU_HAVE_AVX512
    case CpuIsa::avx512:
      return f.template operator()<typename At<CpuIsa::avx512>::type>();
#endif
#if DIFFUSER_CPU_HAVE_AVX2
    case CpuIsa::avx2:
      return f.template operator()<typename At<CpuIsa::avx2>::type>();
#endif
    default:
#if DIFFUSER_CPU_HAVE_GENERIC
      return f.template operator()<typename At<CpuIsa::generic>::type>();
#elif DIFFUSER_CPU_HAVE_AVX2
      return f.template operator()<typename At<CpuIsa::avx2>::type>();
#else
      return f.template operator()<typename At<CpuIsa::avx512>::type>();
#endif
  }
}

}  // namespace diffuser::cpu
