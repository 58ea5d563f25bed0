// Communication between the processes (ranks) that share one sequence. Only engine/ knows the
// transport: MPI on CPU buffers, NCCL on GPU buffers (its unique id broadcast over MPI), or a single
// process. Callers see data operations on the communicator's device and control operations on
// small host values (agreement, broadcast of settings), which NCCL delegates to its MPI bootstrap.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include <diffuser/engine/device.hpp>
#include <diffuser/engine/error.hpp>

namespace diffuser {

// One message of an exchange: `bytes` at `data` (on the communicator's device) to or from `peer`.
struct SendMessage {
  int peer = 0;
  const void* data = nullptr;
  std::int64_t bytes = 0;
};
struct RecvMessage {
  int peer = 0;
  void* data = nullptr;
  std::int64_t bytes = 0;
};

// What the data operations moved and how long they took (control operations are not counted).
struct TrafficCounters {
  std::int64_t bytes_sent = 0;      // to other ranks (messages to oneself are copies, not counted)
  std::int64_t bytes_received = 0;
  std::int64_t messages = 0;
  double ms = 0;  // wall time inside data operations (starting and finishing
                  // an exchange: not the time it travels while the caller computes)
};

class Communicator;

// An exchange in flight (Communicator::start_exchange). Until finish() returns, its buffers belong
// to the transport: the send buffers must not change and the receive buffers must not be read.
// Move-only; it must be finished or destroyed before its communicator. Destroying one that was not
// finished waits for it (errors ignored), so that an exception never leaves a transport writing into
// memory that is being freed.
class PendingExchange {
 public:
  // What a transport's start_impl returns for messages still in flight.
  class InFlight {
   public:
    virtual ~InFlight() = default;
    virtual void wait() = 0;
  };

  PendingExchange() = default;
  PendingExchange(PendingExchange&& other) noexcept;
  PendingExchange& operator=(PendingExchange&& other) noexcept;
  ~PendingExchange();

  // Waits until every message has completed (the receive buffers hold their data). Once done, or
  // on an empty handle, does nothing.
  void finish();
  bool pending() const { return comm_ != nullptr; }

 private:
  friend class Communicator;
  PendingExchange(Communicator* comm, std::unique_ptr<InFlight> in_flight)
      : comm_(comm), in_flight_(std::move(in_flight)) {}
  Communicator* comm_ = nullptr;
  std::unique_ptr<InFlight> in_flight_;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Where the buffers of data operations live.
  virtual Device device() const = 0;
  // "self", "mpi" or "nccl".
  virtual const char* transport() const = 0;

  // Data: posts every send and receive at once and returns when all have completed (a batch of
  // point-to-point messages: all-to-all, halo exchange). A message to oneself is a copy. Every
  // receive must be matched by the peer's send of the same size.
  void exchange(std::span<const SendMessage> sends, std::span<const RecvMessage> recvs);
  // The same in two steps, so that the caller can compute while the messages travel: posts every
  // message and returns; finish() on the result waits for them. Collective like exchange(): every
  // rank starts its exchanges in the same order. Transports without non-blocking messages complete
  // the exchange here and finish() does nothing: "self", and NCCL (its grouped sends and receives
  // are queued on the context's stream, and the exchange waits for the stream).
  PendingExchange start_exchange(std::span<const SendMessage> sends, std::span<const RecvMessage> recvs);

  // Control, on host values, collective (every rank calls them in the same order).
  virtual void all_reduce_max(std::span<std::int64_t> values) = 0;
  virtual void all_reduce_sum(std::span<double> values) = 0;
  virtual void broadcast(void* host_data, std::int64_t bytes, int root) = 0;
  virtual void barrier() = 0;

  const TrafficCounters& traffic() const { return traffic_; }
  void reset_traffic() { traffic_ = {}; }

 protected:
  virtual void exchange_impl(std::span<const SendMessage> sends, std::span<const RecvMessage> recvs) = 0;
  // Posts the messages and returns what finish() must wait for, or null when they have completed.
  // The default completes the exchange at once (exchange_impl).
  virtual std::unique_ptr<PendingExchange::InFlight> start_impl(std::span<const SendMessage> sends,
                                                                std::span<const RecvMessage> recvs) {
    exchange_impl(sends, recvs);
    return nullptr;
  }

 private:
  friend class PendingExchange;  // adds the time spent waiting to the counters
  void count(std::span<const SendMessage> sends, std::span<const RecvMessage> recvs);
  TrafficCounters traffic_;
};

// A communicator of one rank (P = 1): exchanges are copies to oneself.
std::unique_ptr<Communicator> self_communicator(Device device = Device::cpu);

// True when this build has the MPI transport (CMake option DIFFUSER_MPI).
bool mpi_built();
// True when this build has the NCCL transport (DIFFUSER_MPI and the CUDA toolkit's NCCL).
bool nccl_built();

// MPI for the lifetime of the object: MPI_Init_thread (funneled) on construction unless MPI is
// already initialised, MPI_Finalize on destruction if this object initialised it. Throws Error in a
// build without MPI. One per process, made by the program (the CLI, a test main), never by library
// code.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  // Ends every rank of the job now with `code` (MPI_Abort): for a failure that only some ranks saw
  // in the middle of collective work, where waiting for agreement would hang.
  [[noreturn]] static void abort_job(int code);

 private:
  bool owns_ = false;
};

// MPI_COMM_WORLD (duplicated, so its messages never mix with the caller's) on CPU buffers.
// Needs a live MpiSession; throws Error in a build without MPI.
std::unique_ptr<Communicator> mpi_world_communicator();

// NCCL over the ranks of `bootstrap` (whose rank 0 makes the unique id and broadcasts it) on CUDA
// device `cuda_device`; data operations run on the current context's stream and wait for it.
// Throws Error in a build without NCCL. `bootstrap` must outlive the result (control operations
// go through it).
std::unique_ptr<Communicator> nccl_communicator(Communicator& bootstrap, int cuda_device);

// An error every rank of the job throws together (so each can end cleanly, without MPI_Abort).
// usage(): the failing rank's error was a UsageError (exit status 2).
class AgreedError : public Error {
 public:
  AgreedError(const std::string& message, bool usage) : Error(message), usage_(usage) {}
  bool usage() const { return usage_; }

 private:
  bool usage_;
};

// Agreement after a step that may fail on some ranks only (reading a file, parsing): every rank
// passes its own error ("" when it succeeded); when any rank failed, every rank throws AgreedError
// with the first failing rank's message ("rank R: message" when P > 1). Returns normally only when
// all succeeded.
void agree_or_throw(Communicator& comm, const std::string& local_error, bool local_usage = false);

// Throws AgreedError on every rank unless `value` (for example a hash of the arguments) is the same on
// all ranks; `what` names it in the message.
void require_same_on_all_ranks(Communicator& comm, std::int64_t value, const std::string& what);

}  // namespace diffuser
