// The suite's main: the context of every test comes from the environment (DIFFUSER_CPU_ISA=avx2
// runs the whole suite at that level; engine/environment.hpp lists the variables).
#define CATCH_CONFIG_RUNNER
#include <cstdio>

#include <catch2/catch.hpp>

#include <diffuser/engine/context.hpp>
#include <diffuser/engine/environment.hpp>
#include <diffuser/engine/error.hpp>

int main(int argc, char** argv) {
  try {
    const diffuser::Context ctx(diffuser::context_options_from_environment());
    diffuser::ContextScope scope(ctx);
    return Catch::Session().run(argc, argv);
  } catch (const diffuser::Error& e) {
    std::fprintf(stderr, "diffuser_tests: %s\n", e.what());
    return 2;
  }
}
