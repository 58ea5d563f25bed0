# Subcommands of the training work (issue 13): data, train, predict.
list(APPEND DIFFUSER_CLI_SOURCES
  diffuser/cmd_data.cpp
  diffuser/cmd_train.cpp
  diffuser/train_log.cpp
  diffuser/cmd_predict.cpp
)
