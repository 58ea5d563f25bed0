# Subcommands of the layer work (issue 5): `diffuser layer`, and the backward of `diffuser attend`.
list(APPEND DIFFUSER_CLI_SOURCES
  diffuser/cmd_layer.cpp
  diffuser/layer_io.cpp
  diffuser/layer_bench.cpp
  diffuser/grad_attend.cpp
)
