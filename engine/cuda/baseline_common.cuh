// Shared by the in-process baselines: library status checks, stage timing, medians.
#pragma once

#include <algorithm>
#include <vector>

#include <diffuser/engine/sys.hpp>

#include "common.cuh"

namespace diffuser::cuda {

// Runs f() `reps` times after one warm-up with the device drained around each run; median ms.
template <class F>
double median_ms(int reps, F&& f) {
  std::vector<double> t;
  for (int r = 0; r <= reps; ++r) {
    DIFFUSER_CUDA_CHECK(cudaDeviceSynchronize());
    Stopwatch sw;
    f();
    DIFFUSER_CUDA_CHECK(cudaDeviceSynchronize());
    if (r > 0) t.push_back(sw.ms());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace diffuser::cuda
