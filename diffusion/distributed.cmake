# Sequence-parallel diffusion over a Communicator (issue 16): head sharding and token partitioning.
target_sources(diffuser_diffusion PRIVATE
  src/distributed/split.cpp
  src/distributed/rows.cpp
  src/distributed/heads.cpp
  src/distributed/halo_plan.cpp
  src/distributed/halo_exchange.cpp
  src/distributed/memory.cpp
  src/distributed/tokens.cpp
  src/distributed/tokens_backward.cpp
)
