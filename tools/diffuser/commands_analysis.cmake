# Subcommands of the graph analysis (issue 4): reach, spectral, mass, viz, report.
list(APPEND DIFFUSER_CLI_SOURCES
  diffuser/analysis_util.cpp
  diffuser/cmd_reach.cpp
  diffuser/cmd_spectral.cpp
  diffuser/cmd_mass.cpp
  diffuser/cmd_viz.cpp
  diffuser/viz_png.cpp
  diffuser/viz_canvas.cpp
  diffuser/viz_font_data.cpp
  diffuser/viz_charts.cpp
  diffuser/viz_figures.cpp
  diffuser/viz_graphviz.cpp
  diffuser/cmd_report.cpp
  diffuser/report_html.cpp
)
