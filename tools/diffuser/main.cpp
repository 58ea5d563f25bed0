// `diffuser`: the command-line front end. Finds the subcommand, runs it, and turns errors into one
// line on stderr with exit code 1 (bad data) or 2 (bad usage).
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include <diffuser/engine/context.hpp>
#include <diffuser/engine/cpu_isa.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/engine/error.hpp>

#include "cleanup.hpp"
#include "cli.hpp"
#include "cli_help.hpp"
#include "command_context.hpp"
#include "tool_util.hpp"

int main(int argc, char** argv) {
  using namespace diffuser;
  cli::SignalCleanup cleanup;  // SIGINT, SIGTERM, SIGHUP, SIGPIPE: remove this run's temporary files
  std::vector<std::string> tokens(argv + 1, argv + argc);
  if (tokens.empty() || tokens[0] == "--help" || tokens[0] == "-h" || (tokens[0] == "help" && tokens.size() == 1)) {
    std::fputs(cli::overview_text().c_str(), stdout);
    return tokens.empty() ? 2 : 0;
  }
  if (tokens[0] == "--version") {
    try {
      cli::CommandContext context;  // DIFFUSER_CPU_ISA and the other variables, checked
      std::string why, levels;
      const bool gpu = cuda_available(&why);
      for (CpuIsa l : cpu_isa_levels()) levels += cat(levels.empty() ? "" : ", ", cpu_isa_name(l));
      std::printf("diffuser %s\nCPU level: %s (this CPU and build: %s)\nCUDA backend: %s\n", DIFFUSER_VERSION,
                  cpu_isa_description(current_context().cpu_isa()).c_str(), levels.c_str(),
                  gpu ? "available" : why.c_str());
      return 0;
    } catch (const Error& e) {
      std::fprintf(stderr, "diffuser: error: %s\n", cli::one_line(e.what()).c_str());
      return 2;
    }
  }
  const cli::Command* cmd = nullptr;
  for (const auto& c : cli::commands())
    if (c.name == tokens[0]) cmd = &c;
  if (!cmd) {
    std::fprintf(stderr, "diffuser: unknown command '%s' (see diffuser --help)\n", tokens[0].c_str());
    return 2;
  }
  std::vector<std::string> rest;
  for (auto t = tokens.begin() + 1; t != tokens.end(); ++t) {
    if (*t == "--expensive-checks") {
      cli::set_expensive_checks(true);  // a global option: every command accepts it
    } else {
      rest.push_back(*t);
    }
  }
  for (const auto& t : rest)
    if (t == "--help" || t == "-h") {
      std::fputs(cli::help_text(*cmd).c_str(), stdout);
      return 0;
    }
  try {
    cli::CommandContext context;  // the environment's options (DIFFUSER_CPU_ISA, ...), checked
    cli::check_against_table(*cmd, rest);  // unknown options, types and bounds: before any work
    cli::Args args(cmd->name, rest, cmd);
    return cmd->run(args);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "diffuser %s: error: %s\n", cmd->name.c_str(), cli::one_line(e.what()).c_str());
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "diffuser %s: error: %s\n", cmd->name.c_str(), cli::one_line(e.what()).c_str());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "diffuser %s: error: out of memory\n", cmd->name.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "diffuser %s: error: %s\n", cmd->name.c_str(), cli::one_line(e.what()).c_str());
    return 1;
  }
}
