# Tests of the `diffuser` command-line program: they run the built binary (path in DIFFUSER_CLI)
# in fresh temporary folders and check its output files, messages and exit codes.
list(APPEND DIFFUSER_TEST_SOURCES
  tools/cli_runner.cpp
  tools/cli_reference.cpp
  tools/test_cli_graph.cpp
  tools/test_cli_attend.cpp
  tools/test_cli_demo.cpp
  tools/test_cli_bad_input.cpp
  tools/test_cli_reliability.cpp
  tools/test_cli_json.cpp
  tools/test_cli_support.cpp
)
# The CLI's shared pieces (JSON output, progress) are a library the tests link directly.
list(APPEND DIFFUSER_TEST_LIBRARIES diffuser_cli_support)
list(APPEND DIFFUSER_TEST_DEFINITIONS DIFFUSER_CLI="$<TARGET_FILE:diffuser>")
list(APPEND DIFFUSER_TEST_DEPENDS diffuser)
