// The main of diffuser_mpi_tests: Catch2 cases that run on every rank of `mpirun -np P` (ctest runs
// them with 2 and 3 ranks). MPI lives for the whole run and each case makes its own communicator.
// Every rank runs the same cases in the same order, so their collective calls match; the cases check
// with CHECK, never REQUIRE, after collective work, so that a failure on one rank cannot leave the
// others waiting. Each rank prints its own report; mpirun fails when any rank does.
#define CATCH_CONFIG_RUNNER
#include <cstdio>

#include <catch2/catch.hpp>

#include <diffuser/engine/communicator.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/environment.hpp>
#include <diffuser/engine/error.hpp>

int main(int argc, char** argv) {
  try {
    diffuser::MpiSession mpi(&argc, &argv);
    diffuser::ContextOptions options = diffuser::context_options_from_environment();
    options.cpu.threads = 1;  // ranks share the cores (mpirun --oversubscribe)
    const diffuser::Context ctx(options);
    diffuser::ContextScope scope(ctx);
    return Catch::Session().run(argc, argv);
  } catch (const diffuser::Error& e) {
    std::fprintf(stderr, "diffuser_mpi_tests: %s\n", e.what());
    return 2;
  }
}
