#include <tbb/global_control.h>

#include <diffuser/engine/environment.hpp>

#include "command_context.hpp"

namespace diffuser::cli {

struct CommandContext::Limit {
  explicit Limit(int threads)
      : control(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads)) {}
  tbb::global_control control;
};

CommandContext::CommandContext() : ctx_(std::make_unique<Context>(context_options_from_environment())) {
  install();
}

CommandContext::CommandContext(int threads, const std::optional<std::string>& cuda_schedule) {
  ContextOptions o = current_context().options();
  if (threads > 0) o.cpu.threads = threads;
  if (cuda_schedule) o.cuda.schedule += "," + *cuda_schedule;
  ctx_ = std::make_unique<Context>(o);
  install();
}

CommandContext::~CommandContext() = default;

void CommandContext::install() {
  scope_ = std::make_unique<ContextScope>(*ctx_);
  if (ctx_->options().cpu.threads > 0) limit_ = std::make_unique<Limit>(ctx_->options().cpu.threads);
}

}  // namespace diffuser::cli
