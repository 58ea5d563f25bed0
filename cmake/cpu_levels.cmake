# CPU levels: the hot kernels are compiled once per level into one library and chosen at run time
# (engine/cpu/isa_begin.hpp, engine/include/diffuser/engine/cpu_isa.hpp).
#   x86-64 with GCC: generic (baseline SSE2), avx2 (x86-64-v3) and avx512 (x86-64-v4)
#   other compilers or architectures: generic only (on aarch64 that is NEON)
#   DIFFUSER_NATIVE=ON: one level, whatever -march=native gives (the binary runs only on such CPUs)
if(DIFFUSER_NATIVE)
  set(DIFFUSER_CPU_LEVELS native)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  set(DIFFUSER_CPU_LEVELS generic avx2 avx512)
else()
  set(DIFFUSER_CPU_LEVELS generic)
endif()
set(DIFFUSER_ISA_LEVEL_generic 0)
set(DIFFUSER_ISA_LEVEL_avx2 3)
set(DIFFUSER_ISA_LEVEL_avx512 4)
set(DIFFUSER_ISA_LEVEL_native -1)

# The definitions that tell a target's shared code which levels exist (engine/cpu/levels.hpp).
function(diffuser_cpu_level_definitions target)
  if(DIFFUSER_NATIVE)
    target_compile_definitions(${target} PRIVATE DIFFUSER_CPU_NATIVE=1)
  else()
    foreach(level IN LISTS DIFFUSER_CPU_LEVELS)
      string(TOUPPER ${level} up)
      target_compile_definitions(${target} PRIVATE DIFFUSER_CPU_HAVE_${up}=1)
    endforeach()
  endif()
endfunction()

# Compiles the sources once per level (an object library each, DIFFUSER_ISA_LEVEL set) into
# `target`, with its include directories and libraries.
function(diffuser_add_cpu_level_sources target)
  diffuser_cpu_level_definitions(${target})
  foreach(level IN LISTS DIFFUSER_CPU_LEVELS)
    set(obj ${target}_${level})
    add_library(${obj} OBJECT ${ARGN})
    target_compile_definitions(${obj} PRIVATE DIFFUSER_ISA_LEVEL=${DIFFUSER_ISA_LEVEL_${level}})
    diffuser_cpu_level_definitions(${obj})
    target_include_directories(${obj} PRIVATE $<TARGET_PROPERTY:${target},INCLUDE_DIRECTORIES>)
    target_link_libraries(${obj} PRIVATE TBB::tbb)
    diffuser_target_defaults(${obj})
    # Vector types wider than the level's registers pass between inline functions only; GCC's
    # notes on their (never used) calling convention are noise.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${obj} PRIVATE -Wno-psabi)
    endif()
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:${obj}>)
  endforeach()
endfunction()
