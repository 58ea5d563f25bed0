# Tests of diffuser_graphs (patterns, file formats, stats, BGL adapter, plugins), compiled into
# the one diffuser_tests binary. Paths are relative to tests/.
include(${CMAKE_CURRENT_LIST_DIR}/plugins.cmake)

list(APPEND DIFFUSER_TEST_SOURCES
  graphs/test_pattern_terms.cpp
  graphs/test_pattern_parse.cpp
  graphs/test_formats.cpp
  graphs/test_format_errors.cpp
  graphs/test_formats_real_writers.cpp
  graphs/test_stats.cpp
  graphs/test_bgl.cpp
  graphs/test_plugins.cpp
)
