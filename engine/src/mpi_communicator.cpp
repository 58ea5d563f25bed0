// The MPI transport: CPU buffers, non-blocking point-to-point messages for the data operations
// (exchange waits for them at once, start_exchange leaves them in flight until finish), MPI
// collectives for the control operations. Compiled only with DIFFUSER_MPI.
#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include <diffuser/engine/communicator.hpp>
#include <diffuser/engine/error.hpp>

namespace diffuser {

namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw Error(cat(what, " failed: ", std::string(text, static_cast<std::size_t>(length))));
}

// MPI counts are int: larger messages go as several pieces of at most 1 GiB (same tag, same pair:
// MPI keeps their order).
constexpr std::int64_t kPiece = std::int64_t{1} << 30;

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  Device device() const override { return Device::cpu; }
  const char* transport() const override { return "mpi"; }

  void all_reduce_max(std::span<std::int64_t> values) override {
    check(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_INT64_T, MPI_MAX, comm_),
          "MPI_Allreduce");
  }
  void all_reduce_sum(std::span<double> values) override {
    check(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, comm_),
          "MPI_Allreduce");
  }
  void broadcast(void* host_data, std::int64_t bytes, int root) override {
    auto* p = static_cast<char*>(host_data);
    for (std::int64_t off = 0; off < bytes; off += kPiece)
      check(MPI_Bcast(p + off, static_cast<int>(std::min(kPiece, bytes - off)), MPI_BYTE, root, comm_), "MPI_Bcast");
  }
  void barrier() override { check(MPI_Barrier(comm_), "MPI_Barrier"); }

 protected:
  void exchange_impl(std::span<const SendMessage> sends, std::span<const RecvMessage> recvs) override {
    Requests(post(sends, recvs)).wait();
  }
  std::unique_ptr<PendingExchange::InFlight> start_impl(std::span<const SendMessage> sends,
                                                        std::span<const RecvMessage> recvs) override {
    return std::make_unique<Requests>(post(sends, recvs));
  }

 private:
  // The requests of one exchange; wait() is MPI_Waitall.
  class Requests final : public PendingExchange::InFlight {
   public:
    explicit Requests(std::vector<MPI_Request> requests) : requests_(std::move(requests)) {}
    void wait() override {
      check(MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE),
            "MPI_Waitall");
      requests_.clear();
    }

   private:
    std::vector<MPI_Request> requests_;
  };

  // Posts the receives, then the sends (non-blocking); copies to itself at once.
  std::vector<MPI_Request> post(std::span<const SendMessage> sends,
                                std::span<const RecvMessage> recvs) const {
    std::vector<MPI_Request> requests;
    // Receives first, so that sends find them posted.
    for (const RecvMessage& m : recvs) {
      if (m.peer == rank_) continue;
      auto* p = static_cast<char*>(m.data);
      for (std::int64_t off = 0; off < m.bytes; off += kPiece) {
        requests.emplace_back();
        check(MPI_Irecv(p + off, static_cast<int>(std::min(kPiece, m.bytes - off)), MPI_BYTE, m.peer, 0, comm_,
                        &requests.back()),
              "MPI_Irecv");
      }
    }
    for (const SendMessage& m : sends) {
      if (m.peer == rank_) {
        copy_to_self(m, recvs);
        continue;
      }
      const auto* p = static_cast<const char*>(m.data);
      for (std::int64_t off = 0; off < m.bytes; off += kPiece) {
        requests.emplace_back();
        check(MPI_Isend(p + off, static_cast<int>(std::min(kPiece, m.bytes - off)), MPI_BYTE, m.peer, 0, comm_,
                        &requests.back()),
              "MPI_Isend");
      }
    }
    return requests;
  }

  void copy_to_self(const SendMessage& m, std::span<const RecvMessage> recvs) const {
    for (const RecvMessage& r : recvs)
      if (r.peer == rank_) {
        DIFFUSER_CHECK(r.bytes == m.bytes, "exchange: rank ", rank_, " sends itself ", m.bytes, " bytes but expects ",
                       r.bytes);
        if (r.data != m.data && m.bytes > 0) std::memcpy(r.data, m.data, static_cast<std::size_t>(m.bytes));
        return;
      }
    throw Error(cat("exchange: rank ", rank_, " sends itself a message it does not receive"));
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

}  // namespace

bool mpi_built() { return true; }

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return;
  int provided = 0;
  check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  owns_ = true;
}

MpiSession::~MpiSession() {
  if (owns_) MPI_Finalize();
}

void MpiSession::abort_job(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::abort();  // not reached
}

std::unique_ptr<Communicator> mpi_world_communicator() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) throw Error("MPI is not initialised (the program must hold an MpiSession)");
  return std::make_unique<MpiCommunicator>();
}

}  // namespace diffuser
