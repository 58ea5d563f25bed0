// The suite's main: the context of every test comes from the environment (DIFFUSER_CPU_ISA=avx2
// runs the whole suite at that level; engine/environment.hpp lists the variables).
#define CATCH_CONFIG_RUNNER
#include <cstdio>
#include <cstdlib>

#include <catch2/catch.hpp>

#include <diffuser/engine/context.hpp>
#include <diffuser/engine/cpu_isa.hpp>
#include <diffuser/engine/environment.hpp>
#include <diffuser/engine/error.hpp>

int main(int argc, char** argv) {
  try {
    const diffuser::ContextOptions options = diffuser::context_options_from_environment();
    // ctest's runs at a given CPU level report "skipped" on a CPU without it.
    if (options.cpu.isa && !diffuser::cpu_isa_supported(*options.cpu.isa) &&
        std::getenv("DIFFUSER_TEST_SKIP_EXIT")) {
      std::printf("CPU level %s: not supported by this CPU, skipped\n",
                  diffuser::cpu_isa_name(*options.cpu.isa));
      return 77;
    }
    const diffuser::Context ctx(options);
    diffuser::ContextScope scope(ctx);
    return Catch::Session().run(argc, argv);
  } catch (const diffuser::Error& e) {
    std::fprintf(stderr, "diffuser_tests: %s\n", e.what());
    return 2;
  }
}
