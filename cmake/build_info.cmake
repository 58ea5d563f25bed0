# Describes the build for benchmark records (tools/diffuser/json_out.cpp): the commit the tree was
# configured from (`git rev-parse`, "-dirty" with uncommitted changes to tracked files; re-run
# cmake after committing to refresh it), build type, compiler, flags and CPU levels, written
# into build_info.hpp in the binary folder of `target`.
function(diffuser_build_info target)
  set(commit unknown)
  find_package(Git QUIET)
  if(GIT_FOUND)
    execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse HEAD WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                    OUTPUT_VARIABLE out RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(rc EQUAL 0)
      set(commit ${out})
      execute_process(COMMAND ${GIT_EXECUTABLE} diff --quiet HEAD -- WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                      RESULT_VARIABLE dirty ERROR_QUIET)
      if(NOT dirty EQUAL 0)
        string(APPEND commit "-dirty")
      endif()
    endif()
  endif()
  set(DIFFUSER_BUILD_COMMIT ${commit})
  string(TOUPPER "${CMAKE_BUILD_TYPE}" type)
  string(JOIN " " flags ${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${type}} ${DIFFUSER_HOST_FLAGS})
  string(STRIP "${flags}" DIFFUSER_BUILD_CXX_FLAGS)
  string(JOIN "," DIFFUSER_BUILD_CPU_LEVELS ${DIFFUSER_CPU_LEVELS})
  if(DIFFUSER_CUDA_ENABLED)
    set(DIFFUSER_BUILD_CUDA_ENABLED true)
    set(DIFFUSER_BUILD_CUDA_COMPILER "${CMAKE_CUDA_COMPILER_ID} ${CMAKE_CUDA_COMPILER_VERSION}")
    string(JOIN " " cuda_flags ${CMAKE_CUDA_FLAGS} ${CMAKE_CUDA_FLAGS_${type}} "arch=${CMAKE_CUDA_ARCHITECTURES}")
    string(STRIP "${cuda_flags}" DIFFUSER_BUILD_CUDA_FLAGS)
  else()
    set(DIFFUSER_BUILD_CUDA_ENABLED false)
    set(DIFFUSER_BUILD_CUDA_COMPILER "")
    set(DIFFUSER_BUILD_CUDA_FLAGS "")
  endif()
  configure_file(${PROJECT_SOURCE_DIR}/tools/diffuser/build_info.hpp.in
                 ${CMAKE_CURRENT_BINARY_DIR}/generated/build_info.hpp @ONLY)
  target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/generated)
endfunction()
