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
  tools/test_cli_table.cpp
)
# The CLI's shared pieces (JSON output, progress) are a library the tests link directly.
list(APPEND DIFFUSER_TEST_LIBRARIES diffuser_cli_support)
list(APPEND DIFFUSER_TEST_DEFINITIONS DIFFUSER_CLI="$<TARGET_FILE:diffuser>")
list(APPEND DIFFUSER_TEST_DEPENDS diffuser)

# The command line has one definition (tools/diffuser/cli.hpp): docs/CLI.md must be what it and
# docs/CLI.md.in generate, and every synopsis must name only options of its table.
add_test(NAME "CLI reference docs/CLI.md is generated from the option tables (not stale)"
         COMMAND ${CMAKE_COMMAND} -DDIFFUSER=$<TARGET_FILE:diffuser> -DTEMPLATE=${PROJECT_SOURCE_DIR}/docs/CLI.md.in
                 -DDOC=${PROJECT_SOURCE_DIR}/docs/CLI.md -DMODE=check -P ${PROJECT_SOURCE_DIR}/cmake/cli_docs.cmake)
add_test(NAME "CLI option tables agree with their synopses" COMMAND diffuser help --check)
