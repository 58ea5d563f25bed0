# docs/CLI.md from the commands' option tables and the prose of docs/CLI.md.in:
#   cmake -DDIFFUSER=path/to/diffuser -DTEMPLATE=docs/CLI.md.in -DDOC=docs/CLI.md -DMODE=write|check -P cli_docs.cmake
# MODE write regenerates the file (the cli_docs target); MODE check fails when it is stale (a ctest test).
execute_process(COMMAND ${DIFFUSER} help --markdown --template ${TEMPLATE}
                OUTPUT_VARIABLE text ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "diffuser help --markdown failed (${rc}): ${err}")
endif()
if(MODE STREQUAL "write")
  file(WRITE ${DOC} "${text}")
  return()
endif()
file(READ ${DOC} old)
if(NOT old STREQUAL text)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/CLI.md.generated "${text}")
  message(FATAL_ERROR "${DOC} is stale: it differs from what the option tables and ${TEMPLATE} give "
                      "(see ${CMAKE_CURRENT_BINARY_DIR}/CLI.md.generated; `cmake --build BUILD --target cli_docs` "
                      "updates it)")
endif()
message(STATUS "${DOC} is up to date")
