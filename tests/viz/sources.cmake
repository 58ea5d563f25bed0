# Tests of the picture library (tools/viz): the Cairo canvas in every format and the one-call API.
# Pictures are read back through Cairo's own PNG decoder (picture_check.hpp).
list(APPEND DIFFUSER_TEST_SOURCES
  viz/picture_check.cpp
  viz/test_canvas.cpp
  viz/test_viz_api.cpp
)
list(APPEND DIFFUSER_TEST_LIBRARIES diffuser_viz PkgConfig::CAIRO)
