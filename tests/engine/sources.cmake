list(APPEND DIFFUSER_TEST_SOURCES
  engine/test_csr.cpp
  engine/test_npy.cpp
  engine/test_reliability.cpp
  engine/test_primitives.cpp
  engine/test_primitive_edges.cpp
  engine/test_panels.cpp
  engine/test_prepare_hops.cpp
  engine/test_row_pass.cpp
  engine/test_cpu_levels.cpp
  engine/test_concurrency.cpp
  engine/test_backward_primitives.cpp
  engine/test_dense.cpp
)
