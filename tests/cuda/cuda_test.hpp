// Helpers of the [cuda] tests: skipping without a GPU, moving tensors, poisoning outputs.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <diffuser/engine/baselines.hpp>
#include <diffuser/engine/bf16.hpp>
#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/device.hpp>

namespace diffuser::test {

// True when a GPU is usable. Otherwise prints why and, when DIFFUSER_TEST_SKIP_EXIT is set (ctest
// runs each test case in its own process with SKIP_RETURN_CODE 77), exits with 77.
inline bool cuda_or_skip() {
  std::string why;
  if (cuda_available(&why)) return true;
  std::printf("SKIPPED: %s\n", why.c_str());
  std::fflush(stdout);
  if (std::getenv("DIFFUSER_TEST_SKIP_EXIT") != nullptr) std::exit(77);
  return false;
}

// Runs the rest of a test under a CUDA kernel schedule: a context over the suite's, with the
// schedule set() names; the suite's context is back when the guard goes (also on failure).
class ScheduleGuard {
 public:
  ScheduleGuard() : base_(current_context().options()) {}
  void set(const std::string& spec) {
    scope_.reset();
    ContextOptions o = base_;
    o.cuda.schedule = spec;
    ctx_ = std::make_unique<Context>(o);
    scope_ = std::make_unique<ContextScope>(*ctx_);
  }

 private:
  ContextOptions base_;
  std::unique_ptr<Context> ctx_;
  std::unique_ptr<ContextScope> scope_;
};

// A GPU buffer of `count` NaNs: any element a kernel fails to write shows up in the comparison.
inline Buffer<float> poisoned(std::int64_t count) {
  const std::vector<float> nan(static_cast<std::size_t>(count), std::numeric_limits<float>::quiet_NaN());
  return Buffer<float>::from_host(nan, Device::cuda);
}
inline Buffer<bf16> poisoned_bf16(std::int64_t count) {
  const std::vector<bf16> nan(static_cast<std::size_t>(count), bf16{0x7fc0});
  return Buffer<bf16>::from_host(nan, Device::cuda);
}

inline std::vector<float> widen(const std::vector<bf16>& v) {
  std::vector<float> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = to_float(v[i]);
  return out;
}

// A bf16 copy of a float tensor (same shape, host).
inline Tensor3<bf16> to_bf16_tensor(const Tensor3<float>& t) {
  Tensor3<bf16> b(t.n(), t.h(), t.d());
  for (std::int64_t i = 0; i < t.buffer().size(); ++i) b.buffer()[i] = to_bf16(t.buffer()[i]);
  return b;
}
// The float values a bf16 tensor holds (so references see exactly the rounded inputs).
inline Tensor3<float> rounded(const Tensor3<float>& t) {
  Tensor3<float> r(t.n(), t.h(), t.d());
  for (std::int64_t i = 0; i < t.buffer().size(); ++i) r.buffer()[i] = to_float(to_bf16(t.buffer()[i]));
  return r;
}

// (H, E) head-major values back to (E, H) on the host.
inline std::vector<float> edge_major(const std::vector<float>& hm, std::int64_t edges, std::int64_t heads) {
  std::vector<float> em(hm.size());
  for (std::int64_t h = 0; h < heads; ++h)
    for (std::int64_t e = 0; e < edges; ++e)
      em[static_cast<std::size_t>(e * heads + h)] = hm[static_cast<std::size_t>(h * edges + e)];
  return em;
}

}  // namespace diffuser::test
