// The NCCL entry point of a build without NCCL (no CUDA toolkit, or no MPI to bootstrap it).
#include <diffuser/engine/communicator.hpp>
#include <diffuser/engine/error.hpp>

namespace diffuser {

bool nccl_built() { return false; }

std::unique_ptr<Communicator> nccl_communicator(Communicator&, int) {
  throw Error("this build has no NCCL (it needs the CUDA backend, the CUDA toolkit's NCCL and MPI)");
}

}  // namespace diffuser
