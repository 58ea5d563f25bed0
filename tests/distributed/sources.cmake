# Distributed diffusion (issue 16): single-rank cases in diffuser_tests (the self communicator),
# and diffuser_mpi_check run by mpirun with 2 and 3 ranks (tests/distributed/mpi_check.cpp).
list(APPEND DIFFUSER_TEST_SOURCES
  distributed/test_split_and_self.cpp
)

# The mpirun tests take a lock: two Open MPI launches starting together once failed to start (not
# reproduced since), and several ranks each already share the cores.
if(DIFFUSER_MPI_ENABLED)
  add_executable(diffuser_mpi_check distributed/mpi_check.cpp)
  target_link_libraries(diffuser_mpi_check PRIVATE diffuser_diffusion diffuser_graphs diffuser_engine)
  diffuser_target_defaults(diffuser_mpi_check)
  foreach(ranks 2 3)
    add_test(NAME "distributed: heads and tokens against one process, ${ranks} ranks"
             COMMAND ${DIFFUSER_MPIRUN} -np ${ranks} $<TARGET_FILE:diffuser_mpi_check>)
    set_tests_properties("distributed: heads and tokens against one process, ${ranks} ranks" PROPERTIES
                         TIMEOUT 300 RESOURCE_LOCK mpirun)
  endforeach()
  # Catch2 cases on every rank (tests/distributed/mpi_tests_main.cpp): the overlapped halo exchange
  # against the blocking one (bitwise) and against one process.
  add_executable(diffuser_mpi_tests distributed/mpi_tests_main.cpp distributed/test_overlap.cpp)
  target_link_libraries(diffuser_mpi_tests PRIVATE diffuser_diffusion diffuser_graphs diffuser_engine Catch2::Catch2)
  diffuser_target_defaults(diffuser_mpi_tests)
  set_source_files_properties(distributed/mpi_tests_main.cpp PROPERTIES COMPILE_OPTIONS -O0)
  foreach(ranks 2 3)
    add_test(NAME "distributed: overlapped halo exchange equals the blocking one bitwise, ${ranks} ranks"
             COMMAND ${DIFFUSER_MPIRUN} -np ${ranks} $<TARGET_FILE:diffuser_mpi_tests>)
    set_tests_properties("distributed: overlapped halo exchange equals the blocking one bitwise, ${ranks} ranks"
                         PROPERTIES TIMEOUT 300 RESOURCE_LOCK mpirun)
  endforeach()
  # The CLI under mpirun through the cli_runner helpers (a Catch2 binary of its own, so that ctest
  # holds the mpirun lock): failed or interrupted runs leave no --grads-dir folder or file.
  add_executable(diffuser_cli_mpi_tests main.cpp tools/cli_runner.cpp tools/cli_reference.cpp
                                        distributed/test_cli_grads_cleanup.cpp)
  target_include_directories(diffuser_cli_mpi_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(diffuser_cli_mpi_tests PRIVATE diffuser_engine Catch2::Catch2)
  diffuser_target_defaults(diffuser_cli_mpi_tests)
  string(JOIN "|" mpirun_list ${DIFFUSER_MPIRUN})  # words separated by '|'
  target_compile_definitions(diffuser_cli_mpi_tests PRIVATE DIFFUSER_CLI="$<TARGET_FILE:diffuser>"
                             DIFFUSER_MPIRUN="${mpirun_list}")
  add_dependencies(diffuser_cli_mpi_tests diffuser)
  add_test(NAME "distributed: cli attend --grads-dir, failed or interrupted under mpirun, leaves nothing"
           COMMAND diffuser_cli_mpi_tests)
  set_tests_properties("distributed: cli attend --grads-dir, failed or interrupted under mpirun, leaves nothing"
                       PROPERTIES TIMEOUT 300 RESOURCE_LOCK mpirun)
  # The CLI under mpirun (tests/distributed/check_cli.sh; npy_tool.py needs Python, not NumPy): the
  # same Z and gradients as one process, bad launches.
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    string(JOIN " " mpirun_words ${DIFFUSER_MPIRUN})
    add_test(NAME "distributed: diffuser attend and bench under mpirun"
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/distributed/check_cli.sh $<TARGET_FILE:diffuser> "${mpirun_words}"
                     ${Python3_EXECUTABLE})
    set_tests_properties("distributed: diffuser attend and bench under mpirun" PROPERTIES TIMEOUT 600
                         RESOURCE_LOCK mpirun)
  endif()
endif()
