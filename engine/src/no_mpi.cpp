// The MPI entry points of a build without MPI (DIFFUSER_MPI=OFF or MPI not found): clear errors.
#include <cstdlib>

#include <diffuser/engine/communicator.hpp>
#include <diffuser/engine/error.hpp>

namespace diffuser {

bool mpi_built() { return false; }

MpiSession::MpiSession(int*, char***) {
  throw Error("this build has no MPI (configure with -DDIFFUSER_MPI=ON and an MPI library installed)");
}
MpiSession::~MpiSession() = default;
void MpiSession::abort_job(int code) { std::exit(code); }

std::unique_ptr<Communicator> mpi_world_communicator() {
  throw Error("this build has no MPI (configure with -DDIFFUSER_MPI=ON and an MPI library installed)");
}

}  // namespace diffuser
