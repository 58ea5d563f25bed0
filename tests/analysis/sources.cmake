# Tests of the graph analysis (issue 4): reachability, spectral gap, diffusion mass (library), and
# the reach/spectral/mass/viz/report commands (run as the built binary, DIFFUSER_CLI, which
# tests/tools/sources.cmake already provides; pictures read back with tests/viz/picture_check).
list(APPEND DIFFUSER_TEST_SOURCES
  analysis/analysis_test_util.cpp
  analysis/test_reach.cpp
  analysis/test_reach_bits.cpp
  analysis/test_spectral.cpp
  analysis/test_mixing.cpp
  analysis/test_mass.cpp
  analysis/test_cli_analysis.cpp
  analysis/test_cli_analysis_errors.cpp
)
# The dense references use Eigen, which diffuser_diffusion links privately; the test target does
# not exist yet here, so the link is deferred to the end of this directory.
find_package(Eigen3 3.4 REQUIRED NO_MODULE)
cmake_language(DEFER CALL target_link_libraries diffuser_tests PRIVATE Eigen3::Eigen)
# Eigen's AVX-512 paths trip GCC 12's maybe-uninitialized analysis inside the compiler's own headers.
set_source_files_properties(analysis/test_spectral.cpp analysis/test_mass.cpp analysis/test_mixing.cpp
                            PROPERTIES COMPILE_OPTIONS -Wno-maybe-uninitialized)
# The CLI's JSON is read back with nlohmann-json.
find_package(nlohmann_json 3 REQUIRED)
list(APPEND DIFFUSER_TEST_LIBRARIES nlohmann_json::nlohmann_json)
# `diffuser spectral` against LAPACK (numpy.linalg.eigvals) on small directed and non-normal graphs:
# needs Debian's python3 with numpy (python3-numpy), found at configure time.
find_program(DIFFUSER_SYSTEM_PYTHON python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(DIFFUSER_SYSTEM_PYTHON)
  execute_process(COMMAND ${DIFFUSER_SYSTEM_PYTHON} -c "import numpy" RESULT_VARIABLE numpy_missing
                  OUTPUT_QUIET ERROR_QUIET)
endif()
if(DIFFUSER_SYSTEM_PYTHON AND NOT numpy_missing)
  add_test(NAME "spectral agrees with LAPACK on small directed graphs"
           COMMAND ${DIFFUSER_SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/analysis/spectral_lapack.py
                   $<TARGET_FILE:diffuser>)
else()
  message(STATUS "python3 with numpy not found in /usr/bin: the LAPACK comparison test is skipped")
endif()
