// The backward pass of `diffuser attend` (--grad-out dZ.npy --grads-dir DIR): dQ, dK, dV (N, H, D)
// from dL/dZ, written as DIR/dQ.npy, dK.npy, dV.npy with the run's other outputs (all or nothing).
// cmd_attend.cpp calls the three functions below at its three hook points.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include <diffuser/diffusion/coefficients.hpp>
#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/ops.hpp>

#include "cli.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

OptionGroup grad_option_group();

struct AttendGrads {
  std::optional<std::filesystem::path> grad_out, grads_dir;
  bool created_dir = false;
  Buffer<float> dq, dk, dv;  // on the CPU once computed
  std::int64_t n = 0, h = 0, d = 0;
  double backward_ms = 0;

  bool enabled() const { return grad_out.has_value(); }
  AttendGrads() = default;
  AttendGrads(AttendGrads&& o) noexcept;
  AttendGrads& operator=(AttendGrads&&) = delete;
  ~AttendGrads();  // removes DIR if this run created it and left it empty
};

// Consumes --grad-out and --grads-dir (call before the unknown-option check); UsageError unless both
// or neither are given, or with bf16 storage (the backward runs in float32). Creates DIR when
// missing and checks that the three files can be written.
AttendGrads attend_grad_options(Args& args, bool bf16_storage = false);

// Runs the backward from the loaded inputs (call before the forward reuses the Q and K buffers):
// loads dZ (must be (N, H, D), finite), recomputes the weights and hop states, prints one line.
void attend_grad_compute(AttendGrads& g, const Csr& graph, Tensor3View<const float> q,
                         Tensor3View<const float> k, Tensor3View<const float> v, ops::NodeMask mask,
                         const diffusion::Coefficients& c);

// Stages DIR/dQ.npy, dK.npy, dV.npy into the run's outputs (call before files.commit()).
void attend_grad_stage(AttendGrads& g, OutputSet& files);

}  // namespace diffuser::cli
