// Opens the code of one CPU level (no include guard: once per kernel source). Every function
// defined from here to isa_end.hpp is compiled for DIFFUSER_ISA_LEVEL, set by the build per copy
// of the source (cmake/cpu_levels.cmake): 0 generic, 3 x86-64-v3 (AVX2 + FMA), 4 x86-64-v4
// (AVX-512), -1 the flags of a native build. The kernels then live in namespace
// diffuser::cpu::DIFFUSER_ISA_NS (isa_generic, isa_avx2, isa_avx512), so the levels' copies of
// inline functions never merge. The target pragma (GCC) rather than -march per file: templates
// of the standard library and TBB, included before it by isa_prelude.hpp, stay baseline code.
#include "isa_prelude.hpp"

#ifndef DIFFUSER_ISA_LEVEL
#error "DIFFUSER_ISA_LEVEL is set by the build for the per-level kernel sources"
#endif
#if DIFFUSER_ISA_LEVEL < 0
#undef DIFFUSER_ISA_LEVEL
#define DIFFUSER_ISA_LEVEL DIFFUSER_CPU_NATIVE_LEVEL
#define DIFFUSER_ISA_PRAGMA 0
#else
#define DIFFUSER_ISA_PRAGMA 1
#endif

#if DIFFUSER_ISA_LEVEL == 4
#define DIFFUSER_ISA_NS isa_avx512
#define DIFFUSER_ISA_ENUM CpuIsa::avx512
#if DIFFUSER_ISA_PRAGMA
#pragma GCC push_options
#pragma GCC target( \
    "avx512f,avx512bw,avx512cd,avx512dq,avx512vl,avx2,fma,bmi,bmi2,f16c,lzcnt,movbe,popcnt,avx,sse4.2")
#endif
#elif DIFFUSER_ISA_LEVEL == 3
#define DIFFUSER_ISA_NS isa_avx2
#define DIFFUSER_ISA_ENUM CpuIsa::avx2
#if DIFFUSER_ISA_PRAGMA
#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi,bmi2,f16c,lzcnt,movbe,popcnt,avx,sse4.2")
#endif
#elif DIFFUSER_ISA_LEVEL == 0
#define DIFFUSER_ISA_NS isa_generic
#define DIFFUSER_ISA_ENUM CpuIsa::generic
#undef DIFFUSER_ISA_PRAGMA
#define DIFFUSER_ISA_PRAGMA 0
#else
#error "unknown DIFFUSER_ISA_LEVEL"
#endif
