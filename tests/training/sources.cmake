# Tests of the training work (issue 13): AdamW, schedules and clipping against hand-computed values,
# the generated tasks, the training loop (reproducible, bitwise resume, accumulation), checkpoints,
# `diffuser data/train/predict` end to end with bad input and signals; and, through ctest, the loss
# of 20 AdamW steps and the whole model's gradients against PyTorch (skipped without torch).
list(APPEND DIFFUSER_TEST_SOURCES
  training/test_optimizer.cpp
  training/test_tasks.cpp
  training/test_trainer.cpp
  training/test_cli_train.cpp
)
list(APPEND DIFFUSER_TEST_LIBRARIES diffuser_training)
if(EXISTS /usr/bin/python3)
  add_test(NAME "training: loss and gradients against PyTorch"
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/training/torch_check.py
                   --diffuser $<TARGET_FILE:diffuser>)
  set_tests_properties("training: loss and gradients against PyTorch" PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
endif()
