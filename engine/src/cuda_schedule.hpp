// The CUDA backend's kernel schedule (which hop and score kernels, which weight layout, when a row
// takes the hub path, the tensor-core panels): an option of the execution context
// (CudaOptions::schedule, DIFFUSER_CUDA_SCHEDULE), parsed once when a context is built. Plain C++
// so that a build without CUDA checks schedules too.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <diffuser/engine/context.hpp>

namespace diffuser {

enum class HopKernel { automatic, w32, w16, w8, h2, row };

struct CudaSchedule {
  HopKernel hop = HopKernel::automatic;  // w16 for float32 rows, w8 for bf16 (measured best)
  int hop_step = 0;                      // edges loaded per step in hop_warp: 8, 16, 32 (0: default, 8)
  int score_lanes = 8;                   // lanes per edge in the score kernel: 8, 16 or 32
  int score_step = 0;                    // edges loaded per step in score_warp: 8, 16, 32 (0: default, 8)
  bool head_major = true;                // weights (H, E) inside the forward
  std::int64_t hub = 0;                  // 0: default rule; -1: no hub path; else the degree threshold
  bool panels = true;                    // bf16 rows with D = 64: tensor-core panels
};

// Parses "key=value,..." over `base` ("default" resets); throws UsageError naming the bad item.
CudaSchedule parse_cuda_schedule(std::string_view spec, CudaSchedule base = {});
// "hop=auto,step=0,score=s8,sstep=0,layout=hm,hub=0,panel=1".
std::string describe(const CudaSchedule& s);

}  // namespace diffuser

namespace diffuser::cuda {
// The schedule of the calling thread's context.
inline const CudaSchedule& current_schedule() {
  return current_context().cuda_schedule();
}
}  // namespace diffuser::cuda
