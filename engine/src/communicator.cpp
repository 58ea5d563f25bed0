// The transport-independent part of the communicators: traffic counters, the single-rank
// communicator, and agreement between ranks after steps that may fail on some of them only.
#include <utility>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/communicator.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>

namespace diffuser {

void Communicator::count(std::span<const SendMessage> sends, std::span<const RecvMessage> recvs) {
  for (const SendMessage& m : sends) {
    DIFFUSER_CHECK(m.peer >= 0 && m.peer < size() && m.bytes >= 0, "exchange: bad send to rank ", m.peer);
    if (m.peer != rank()) {
      traffic_.bytes_sent += m.bytes;
      ++traffic_.messages;
    }
  }
  for (const RecvMessage& m : recvs)
    if (m.peer != rank()) traffic_.bytes_received += m.bytes;
}

void Communicator::exchange(std::span<const SendMessage> sends, std::span<const RecvMessage> recvs) {
  Stopwatch sw;
  exchange_impl(sends, recvs);
  traffic_.ms += sw.ms();
  count(sends, recvs);
}

PendingExchange Communicator::start_exchange(std::span<const SendMessage> sends,
                                             std::span<const RecvMessage> recvs) {
  Stopwatch sw;
  std::unique_ptr<PendingExchange::InFlight> in_flight = start_impl(sends, recvs);
  traffic_.ms += sw.ms();
  count(sends, recvs);
  return PendingExchange(this, std::move(in_flight));
}

PendingExchange::PendingExchange(PendingExchange&& other) noexcept
    : comm_(std::exchange(other.comm_, nullptr)), in_flight_(std::move(other.in_flight_)) {}

PendingExchange& PendingExchange::operator=(PendingExchange&& other) noexcept {
  if (this != &other) {
    try {
      finish();
    } catch (...) {  // see the destructor
    }
    comm_ = std::exchange(other.comm_, nullptr);
    in_flight_ = std::move(other.in_flight_);
  }
  return *this;
}

PendingExchange::~PendingExchange() {
  try {
    finish();
  } catch (...) {  // already unwinding from an error, or the transport failed: nothing to add
  }
}

void PendingExchange::finish() {
  Communicator* comm = std::exchange(comm_, nullptr);
  std::unique_ptr<InFlight> in_flight = std::move(in_flight_);
  if (!comm || !in_flight) return;
  Stopwatch sw;
  in_flight->wait();
  comm->traffic_.ms += sw.ms();
}

namespace {

class SelfCommunicator final : public Communicator {
 public:
  explicit SelfCommunicator(Device d) : device_(d) {}
  int rank() const override { return 0; }
  int size() const override { return 1; }
  Device device() const override { return device_; }
  const char* transport() const override { return "self"; }
  void all_reduce_max(std::span<std::int64_t>) override {}
  void all_reduce_sum(std::span<double>) override {}
  void broadcast(void*, std::int64_t, int) override {}
  void barrier() override {}

 protected:
  void exchange_impl(std::span<const SendMessage> sends, std::span<const RecvMessage> recvs) override {
    DIFFUSER_CHECK(sends.size() == recvs.size(), "exchange on one rank: ", sends.size(), " sends but ",
                   recvs.size(), " receives");
    for (std::size_t i = 0; i < sends.size(); ++i) {
      DIFFUSER_CHECK(sends[i].peer == 0 && recvs[i].peer == 0 && sends[i].bytes == recvs[i].bytes,
                     "exchange on one rank: message ", i, " does not match");
      if (sends[i].data != recvs[i].data)
        device_copy(recvs[i].data, device_, sends[i].data, device_, static_cast<std::size_t>(sends[i].bytes));
    }
  }

 private:
  Device device_;
};

}  // namespace

std::unique_ptr<Communicator> self_communicator(Device device) {
  return std::make_unique<SelfCommunicator>(device);
}

void agree_or_throw(Communicator& comm, const std::string& local_error, bool local_usage) {
  // The first failing rank r reports P - r, so the maximum names the lowest failing rank.
  std::int64_t flag = local_error.empty() ? 0 : comm.size() - comm.rank();
  comm.all_reduce_max({&flag, 1});
  if (flag == 0) return;
  const int root = comm.size() - static_cast<int>(flag);
  std::int64_t head[2] = {comm.rank() == root ? static_cast<std::int64_t>(local_error.size()) : 0,
                          local_usage ? 1 : 0};
  comm.broadcast(head, sizeof(head), root);
  const std::int64_t length = head[0];
  std::string message = comm.rank() == root ? local_error : std::string(static_cast<std::size_t>(length), ' ');
  comm.broadcast(message.data(), length, root);
  throw AgreedError(comm.size() > 1 ? cat("rank ", root, ": ", message) : message, head[1] != 0);
}

void require_same_on_all_ranks(Communicator& comm, std::int64_t value, const std::string& what) {
  std::int64_t range[2] = {value, -value};
  comm.all_reduce_max(range);
  if (range[0] != value || -range[1] != value)
    throw AgreedError(cat(what, " differ across the ", comm.size(), " ranks (every rank must be launched with the same ",
                    what, ")"),
                      false);
}

}  // namespace diffuser
