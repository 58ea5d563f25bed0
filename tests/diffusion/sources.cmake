list(APPEND DIFFUSER_TEST_SOURCES
  diffusion/test_coefficients.cpp
  diffusion/test_diffusion.cpp
)
