# Subcommands of the training work (issue 13): data, train, predict, curves (draws with the viz code
# of commands_analysis.cmake).
list(APPEND DIFFUSER_CLI_SOURCES
  diffuser/cmd_data.cpp
  diffuser/cmd_train.cpp
  diffuser/train_log.cpp
  diffuser/train_setup.cpp
  diffuser/cmd_predict.cpp
  diffuser/cmd_curves.cpp
)
