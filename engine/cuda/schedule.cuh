// The CUDA backend's kernel schedule (which hop and score kernels, which weight layout, when a
// row takes the hub path). Set through baselines::set_cuda_schedule or DIFFUSER_CUDA_SCHEDULE.
#pragma once

#include <cstdint>

namespace diffuser::cuda {

enum class HopKernel { automatic, w32, w16, w8, h2, row };

struct Schedule {
  HopKernel hop = HopKernel::automatic;  // w16 for float32 rows, w8 for bf16 (measured best)
  int hop_step = 0;                      // edges loaded per step in hop_warp: 8, 16, 32 (0: default, 8)
  int score_lanes = 8;                   // lanes per edge in the score kernel: 8, 16 or 32
  int score_step = 0;                    // edges loaded per step in score_warp: 8, 16, 32 (0: default, 8)
  bool head_major = true;                // weights (H, E) inside the forward
  std::int64_t hub = 0;                  // 0: default rule; -1: no hub path; else the degree threshold
  int panels = 1;  // bf16 rows: tensor-core panels (0 off; 1 from a graph's second forward; 2 from the first)
};

const Schedule& current_schedule();

}  // namespace diffuser::cuda
