// The NCCL transport: data operations on CUDA buffers (grouped ncclSend / ncclRecv on the current
// context's stream), control operations through the MPI bootstrap communicator, which also carries
// NCCL's unique id from rank 0 to the others. Compiled only with CUDA, NCCL and MPI.
// start_exchange is the base class's: the whole exchange at start (exchange_impl waits for the
// stream), finish a no-op. Overlap on the GPU would leave the grouped calls on a stream of their
// own and make finish wait for an event there; the token mode that would use it is CPU-only.
#include <cuda_runtime.h>
#include <nccl.h>

#include <diffuser/engine/communicator.hpp>
#include <diffuser/engine/context.hpp>
#include <diffuser/engine/error.hpp>

namespace diffuser {

namespace {

void check(ncclResult_t rc, const char* what) {
  if (rc != ncclSuccess) throw Error(cat(what, " failed: ", ncclGetErrorString(rc)));
}
void check(cudaError_t rc, const char* what) {
  if (rc != cudaSuccess) throw Error(cat(what, " failed: ", cudaGetErrorString(rc)));
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(Communicator& bootstrap, int device) : bootstrap_(bootstrap), device_(device) {
    ncclUniqueId id{};
    if (bootstrap.rank() == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    bootstrap.broadcast(&id, sizeof(id), 0);
    check(cudaSetDevice(device), "cudaSetDevice");
    check(ncclCommInitRank(&comm_, bootstrap.size(), id, bootstrap.rank()), "ncclCommInitRank");
  }
  ~NcclCommunicator() override { ncclCommDestroy(comm_); }
  int rank() const override { return bootstrap_.rank(); }
  int size() const override { return bootstrap_.size(); }
  Device device() const override { return Device::cuda; }
  const char* transport() const override { return "nccl"; }
  void all_reduce_max(std::span<std::int64_t> values) override { bootstrap_.all_reduce_max(values); }
  void all_reduce_sum(std::span<double> values) override { bootstrap_.all_reduce_sum(values); }
  void broadcast(void* host_data, std::int64_t bytes, int root) override {
    bootstrap_.broadcast(host_data, bytes, root);
  }
  void barrier() override { bootstrap_.barrier(); }

 protected:
  void exchange_impl(std::span<const SendMessage> sends, std::span<const RecvMessage> recvs) override {
    auto stream = static_cast<cudaStream_t>(current_context().options().cuda.stream);
    check(ncclGroupStart(), "ncclGroupStart");
    for (const RecvMessage& m : recvs)
      check(ncclRecv(m.data, static_cast<std::size_t>(m.bytes), ncclChar, m.peer, comm_, stream), "ncclRecv");
    for (const SendMessage& m : sends)
      check(ncclSend(m.data, static_cast<std::size_t>(m.bytes), ncclChar, m.peer, comm_, stream), "ncclSend");
    check(ncclGroupEnd(), "ncclGroupEnd");
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  }

 private:
  Communicator& bootstrap_;
  int device_ = 0;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

bool nccl_built() { return true; }

std::unique_ptr<Communicator> nccl_communicator(Communicator& bootstrap, int cuda_device) {
  return std::make_unique<NcclCommunicator>(bootstrap, cuda_device);
}

}  // namespace diffuser
