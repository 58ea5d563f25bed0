# Subcommands of the foundation: graph, attend, demo, bench.
list(APPEND DIFFUSER_CLI_SOURCES
  diffuser/cmd_graph.cpp
  diffuser/cmd_attend.cpp
  diffuser/attend_io.cpp
  diffuser/cmd_demo.cpp
  diffuser/demo_data.cpp
  diffuser/tool_util.cpp
  diffuser/cmd_bench.cpp
  diffuser/distributed_run.cpp
  diffuser/attend_distributed.cpp
  diffuser/bench_distributed.cpp
)
