# The CUDA backend of diffuser_engine (included by engine/CMakeLists.txt when DIFFUSER_CUDA_ENABLED).
# Thrust lives in graph_build.cu alone (it is the slow TU to compile); the kernels are split by
# dtype so that the two heaviest TUs build in parallel.
target_sources(diffuser_engine PRIVATE
  cuda/device.cu
  cuda/plan.cu
  cuda/panel_plan.cpp
  cuda/sddmm.cu
  cuda/softmax.cu
  cuda/axpby.cu
  cuda/finite.cu
  cuda/fused_attention.cu
  cuda/fused_attention_bf16.cu
  cuda/fused_hop.cu
  cuda/fused_hop_bf16.cu
  cuda/hop_pack.cu
  cuda/graph_build.cu
  cuda/panel_plan_build.cu
)
target_link_libraries(diffuser_engine PUBLIC CUDA::cudart_static PRIVATE CUDA::cublas)
target_compile_options(diffuser_engine PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:-lineinfo -diag-suppress=554 -Xcompiler=-Wall,-Wextra --expt-relaxed-constexpr>)
# Gradient, bitset and dense kernels (cuBLAS for the layer's products).
target_sources(diffuser_engine PRIVATE
  cuda/backward_scatter.cu
  cuda/backward_hop.cu
  cuda/backward_softmax.cu
  cuda/backward_dropout.cu
  cuda/bits.cu
  cuda/dense_gemm.cu
  cuda/dense_elementwise.cu
  cuda/dense_norm.cu
)
target_link_libraries(diffuser_engine PRIVATE CUDA::cublas)
