# Subcommands of the graph analysis (issue 4): reach, spectral, mass, viz, report.
list(APPEND DIFFUSER_CLI_SOURCES
  diffuser/analysis_util.cpp
  diffuser/cmd_reach.cpp
  diffuser/cmd_spectral.cpp
  diffuser/cmd_mass.cpp
  diffuser/cmd_viz.cpp
  diffuser/cmd_report.cpp
)
