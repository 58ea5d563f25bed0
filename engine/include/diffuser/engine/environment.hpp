// The environment variables the engine's programs honour, mapped to context options in one place.
// The library never reads the environment by itself: a program (the CLI, the test suite, the
// Python package) calls this once and builds its Context from the result. docs/ARCHITECTURE.md
// lists the variables in one table.
//
//   DIFFUSER_CPU_ISA=generic|avx2|avx512   cap the CPU level (unknown or unsupported: UsageError)
//   DIFFUSER_THREADS=T                     CPU threads (0: all)
//   DIFFUSER_PANELS=0|1                    dense panels off / on (unset: the level's default)
//   DIFFUSER_HUB_PANELS=0|1                hub rows as panels
//   DIFFUSER_HUB_ROWS=0|1                  the tiled hub-row path
//   DIFFUSER_HUB_THRESHOLD=T               rows of degree >= T are hubs
//   DIFFUSER_PANEL_ROWS=16|32, DIFFUSER_PANEL_SHARE=1..100, DIFFUSER_HUB_CHUNK_ROWS=16..64
//   DIFFUSER_CUDA_DEVICE=I                 the CUDA device
//   DIFFUSER_CUDA_SCHEDULE=key=value,...   CUDA kernel schedule (baselines.hpp lists the keys)
//   DIFFUSER_CUDA_SYNC=0|1                 synchronise after every CUDA launch (debugging)
//   DIFFUSER_BWD_GENERIC=0|1, DIFFUSER_BWD_HEADS=G   CUDA backward kernel variants (comparisons)
#pragma once

#include <diffuser/engine/context.hpp>

namespace diffuser {

// `base` with every variable above that is set applied; a malformed value throws UsageError
// naming the variable and the value.
ContextOptions context_options_from_environment(ContextOptions base = {});

}  // namespace diffuser
