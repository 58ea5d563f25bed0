# The example plugin and deliberately broken plugins for the plugin tests. Each is a MODULE
# library that sees only the C ABI header, as a third-party plugin would; their paths reach the
# tests as compile definitions.
list(APPEND DIFFUSER_TEST_DEFINITIONS DIFFUSER_EXAMPLE_PLUGIN="$<TARGET_FILE:diffuser_example_plugin>")
list(APPEND DIFFUSER_TEST_DEPENDS diffuser_example_plugin)

# crashes, aborts, fpe, ctor_crash, exits, hangs, overread and stray_thread misbehave on purpose: the
# child-process isolation of plugin_loader.cpp must turn each into a one-line error.
foreach(kind bad_abi out_of_range fails no_build crashes aborts fpe ctor_crash exits hangs overread stray_thread)
  set(target diffuser_test_plugin_${kind})
  add_library(${target} MODULE ${CMAKE_CURRENT_LIST_DIR}/plugins/${kind}.cpp)
  target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../../graphs/include)
  set_target_properties(${target} PROPERTIES CXX_VISIBILITY_PRESET hidden)
  target_link_libraries(${target} PRIVATE Threads::Threads)
  diffuser_target_defaults(${target})
  # They stand for third-party plugins, which are not instrumented: under the sanitizer build
  # UBSan would otherwise catch crashes.cpp's null store and abort before the SIGSEGV under test.
  if(DIFFUSER_SANITIZE OR DIFFUSER_FUZZ)
    target_compile_options(${target} PRIVATE -fno-sanitize=all)
  endif()
  string(TOUPPER ${kind} upper)
  list(APPEND DIFFUSER_TEST_DEFINITIONS DIFFUSER_TEST_PLUGIN_${upper}="$<TARGET_FILE:${target}>")
  list(APPEND DIFFUSER_TEST_DEPENDS ${target})
endforeach()
