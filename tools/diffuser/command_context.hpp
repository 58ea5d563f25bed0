// The execution context of a CLI command: the environment's options (engine/environment.hpp) and
// the command's --threads, installed on the command's thread. The CLI owns its process, so the
// thread count also caps TBB everywhere (graph construction, analysis), not only the primitives.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <diffuser/engine/context.hpp>

namespace diffuser::cli {

class CommandContext {
 public:
  // From the environment (main.cpp, before any command runs).
  CommandContext();
  // The current context's options with `threads` CPU threads (threads <= 0: unchanged) and, when
  // given, the CUDA kernel schedule `cuda_schedule` over the environment's (--schedule).
  explicit CommandContext(int threads, const std::optional<std::string>& cuda_schedule = {});
  ~CommandContext();
  CommandContext(const CommandContext&) = delete;
  CommandContext& operator=(const CommandContext&) = delete;

  const Context& context() const { return *ctx_; }

 private:
  struct Limit;
  void install();
  std::unique_ptr<Context> ctx_;
  std::unique_ptr<ContextScope> scope_;
  std::unique_ptr<Limit> limit_;
};

}  // namespace diffuser::cli
