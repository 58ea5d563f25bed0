# Bitset primitives of multi-source BFS (exact reachability, issue 4): argument checks in
# src/ops_bits.cpp, TBB in cpu/bits.cpp, CUDA in cuda/bits.cu (or the stub without CUDA).
target_sources(diffuser_engine PRIVATE
  src/ops_bits.cpp
  cpu/bits.cpp
)
if(DIFFUSER_CUDA_ENABLED)
  target_sources(diffuser_engine PRIVATE cuda/bits.cu)
else()
  target_sources(diffuser_engine PRIVATE src/no_cuda_bits.cpp)
endif()
