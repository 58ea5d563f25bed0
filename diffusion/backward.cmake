# Training side of diffuser_diffusion (issue 5): the forward with dropout and the backward.
target_sources(diffuser_diffusion PRIVATE
  src/backward/hop_plan.cpp
  src/backward/diffusion_backward.cpp
)
