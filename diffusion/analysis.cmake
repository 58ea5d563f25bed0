# The analysis of token graphs (issue 4): multi-hop reachability, spectral gap, diffusion mass.
find_package(Eigen3 3.4 REQUIRED NO_MODULE)
target_sources(diffuser_diffusion PRIVATE
  src/analysis/reach.cpp
  src/analysis/reach_frontier.cpp
  src/analysis/krylov_schur.cpp
  src/analysis/spectral.cpp
  src/analysis/mass.cpp
)
target_link_libraries(diffuser_diffusion PRIVATE Eigen3::Eigen)
# Eigen's AVX-512 paths trip GCC 12's maybe-uninitialized analysis inside the compiler's own headers.
set_source_files_properties(src/analysis/krylov_schur.cpp PROPERTIES COMPILE_OPTIONS -Wno-maybe-uninitialized)
