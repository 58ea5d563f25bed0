# Gradient primitives of diffuser_engine (issue 5): argument checks in src/ops_backward.cpp, CPU
# kernels in cpu/backward_*.cpp, CUDA kernels in cuda/backward_*.cu (or the stub without CUDA).
target_sources(diffuser_engine PRIVATE
  src/ops_backward.cpp
  cpu/backward_scatter.cpp
  cpu/backward_hop.cpp
  cpu/backward_softmax.cpp
  cpu/backward_dropout.cpp
)
if(DIFFUSER_CUDA_ENABLED)
  target_sources(diffuser_engine PRIVATE
    cuda/backward_scatter.cu
    cuda/backward_hop.cu
    cuda/backward_softmax.cu
    cuda/backward_dropout.cu
  )
else()
  target_sources(diffuser_engine PRIVATE src/no_cuda_backward.cpp)
endif()
