# Dense primitives of the Transformer layer (issue 5): argument checks in src/dense.cpp, CPU kernels in
# cpu/dense_*.cpp (OpenBLAS for the products), CUDA kernels in cuda/dense_*.cu (cuBLAS for the
# products), or the stub without CUDA. Only diffuser_engine links a BLAS.
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
target_sources(diffuser_engine PRIVATE
  src/dense.cpp
  cpu/dense_gemm.cpp
  cpu/dense_elementwise.cpp
  cpu/dense_norm.cpp
)
target_link_libraries(diffuser_engine PRIVATE BLAS::BLAS)
if(DIFFUSER_CUDA_ENABLED)
  target_sources(diffuser_engine PRIVATE
    cuda/dense_gemm.cu
    cuda/dense_elementwise.cu
    cuda/dense_norm.cu
  )
  target_link_libraries(diffuser_engine PRIVATE CUDA::cublas)
else()
  target_sources(diffuser_engine PRIVATE src/no_cuda_dense.cpp)
endif()
