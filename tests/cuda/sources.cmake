# GPU tests: tagged [cuda]; each skips with "SKIPPED: <reason>" when no CUDA device is usable
# (exit code 77 when DIFFUSER_TEST_SKIP_EXIT is set, which ctest maps to "Skipped").
list(APPEND DIFFUSER_TEST_SOURCES
  cuda/test_cuda_primitives.cpp
  cuda/test_cuda_schedules.cpp
  cuda/test_cuda_diffusion.cpp
  cuda/test_cuda_graph.cpp
  cuda/test_cuda_panels.cpp
  cuda/test_cuda_backward.cpp
  cuda/test_cuda_context.cpp
)
