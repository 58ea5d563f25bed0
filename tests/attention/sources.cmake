# Tests of the layer work (issue 5): gradient primitives, diffusion backward, the encoder layer and
# stack against float64 references and finite differences, safetensors/config files, the CLI
# (`diffuser layer`, `attend --grad-out`), the engine's dense primitives, and the CUDA gradients,
# dense primitives and whole layer against the CPU ones ([cuda]).
list(APPEND DIFFUSER_TEST_SOURCES
  attention/test_backward_primitives.cpp
  attention/test_diffusion_backward.cpp
  attention/test_layer.cpp
  attention/test_model.cpp
  attention/test_safetensors.cpp
  attention/test_cli_layer.cpp
  attention/test_cuda_backward.cpp
  attention/test_dense.cpp
  attention/test_cuda_layer.cpp
  attention/test_head_groups.cpp
)
