# Tests of attention/ and the diffusion backward: the encoder layer and stack against float64
# references and finite differences, safetensors/config files, the CLI (`diffuser layer`, `attend
# --grad-out`), head groups, and the whole layer on the GPU against the CPU ([cuda]). (The engine's
# gradient and dense primitives are tested in tests/engine and tests/cuda.)
list(APPEND DIFFUSER_TEST_SOURCES
  attention/test_diffusion_backward.cpp
  attention/test_layer.cpp
  attention/test_model.cpp
  attention/test_safetensors.cpp
  attention/test_cli_layer.cpp
  attention/test_cuda_layer.cpp
  attention/test_head_groups.cpp
)
