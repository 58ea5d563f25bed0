# The analysis of token graphs (issue 4): multi-hop reachability, spectral gap and mixing,
# diffusion mass. Eigenvalue problems go through Spectra (header-only, on Eigen).
find_package(Eigen3 3.4 REQUIRED NO_MODULE)
find_package(Spectra 1.0 REQUIRED CONFIG)
target_sources(diffuser_diffusion PRIVATE
  src/analysis/reach.cpp
  src/analysis/reach_frontier.cpp
  src/analysis/row_powers.cpp
  src/analysis/eigensolvers.cpp
  src/analysis/spectral.cpp
  src/analysis/mixing.cpp
  src/analysis/mass.cpp
)
# Header-only: needed to build, not by whoever links the installed library.
target_link_libraries(diffuser_diffusion PRIVATE Eigen3::Eigen $<BUILD_INTERFACE:Spectra::Spectra>)
# GCC 12 reports maybe-uninitialized and use-after-free inside Eigen's and Spectra's own headers
# (false positives of its inliner).
set_source_files_properties(src/analysis/eigensolvers.cpp src/analysis/spectral.cpp PROPERTIES COMPILE_OPTIONS
                            "-Wno-maybe-uninitialized;-Wno-use-after-free")
