// The halo plan's data movement: exchange (owners' rows into the halo rows) and its transpose
// reduce (halo rows' gradient added into the owners' rows), each blocking or in two steps
// (start, then HaloTransfer::finish) so that the caller computes while the messages travel.
#include <utility>

#include <diffuser/diffusion/distributed.hpp>
#include <diffuser/engine/error.hpp>

#include "rows.hpp"

namespace diffuser::diffusion::distributed {

HaloTransfer::HaloTransfer(HaloTransfer&& other) noexcept
    : buffer_(std::move(other.buffer_)),
      messages_(std::move(other.messages_)),
      plan_(std::exchange(other.plan_, nullptr)),
      reduce_into_(std::exchange(other.reduce_into_, nullptr)),
      row_floats_(other.row_floats_) {}

HaloTransfer& HaloTransfer::operator=(HaloTransfer&& other) noexcept {
  if (this != &other) {
    messages_ = std::move(other.messages_);  // first: waits for ours before our buffer goes
    buffer_ = std::move(other.buffer_);
    plan_ = std::exchange(other.plan_, nullptr);
    reduce_into_ = std::exchange(other.reduce_into_, nullptr);
    row_floats_ = other.row_floats_;
  }
  return *this;
}

void HaloTransfer::finish() {
  messages_.finish();
  if (plan_ != nullptr)
    plan_->add_received(reinterpret_cast<const float*>(buffer_.data()), reduce_into_, row_floats_);
  plan_ = nullptr;
  buffer_ = Buffer<char>();
}

HaloTransfer HaloPlan::start_exchange(Communicator& comm, void* local, std::int64_t row_bytes) const {
  const int P = comm.size();
  const Device dev = comm.device();
  auto* base = static_cast<char*>(local);
  HaloTransfer t;
  t.buffer_ = Buffer<char>(rows_sent() * row_bytes, dev);
  std::vector<SendMessage> sends;
  std::vector<RecvMessage> recvs;
  std::int64_t offset = 0;
  for (int p = 0; p < P; ++p) {
    const auto& list = send_rows_[static_cast<std::size_t>(p)];
    if (!list.empty()) {
      char* block = t.buffer_.data() + offset;
      gather_rows(block, base + lo_ * row_bytes, list, row_bytes, dev);
      sends.push_back({p, block, static_cast<std::int64_t>(list.size()) * row_bytes});
      offset += static_cast<std::int64_t>(list.size()) * row_bytes;
    }
    const std::int64_t rows = recv_rows_[static_cast<std::size_t>(p)];
    if (rows > 0)
      recvs.push_back({p, base + recv_begin_[static_cast<std::size_t>(p)] * row_bytes, rows * row_bytes});
  }
  t.messages_ = comm.start_exchange(sends, recvs);
  return t;
}

void HaloPlan::exchange(Communicator& comm, void* local, std::int64_t row_bytes) const {
  start_exchange(comm, local, row_bytes).finish();
}

HaloTransfer HaloPlan::start_reduce(Communicator& comm, float* local, std::int64_t row_floats) const {
  DIFFUSER_CHECK(comm.device() == Device::cpu, "HaloPlan::reduce: CPU buffers only");
  const int P = comm.size();
  HaloTransfer t;
  t.buffer_ = Buffer<char>(rows_sent() * row_floats * std::int64_t{sizeof(float)});
  auto* incoming = reinterpret_cast<float*>(t.buffer_.data());
  std::vector<SendMessage> sends;
  std::vector<RecvMessage> recvs;
  std::int64_t offset = 0;
  for (int p = 0; p < P; ++p) {
    const auto pi = static_cast<std::size_t>(p);
    if (recv_rows_[pi] > 0)
      sends.push_back({p, local + recv_begin_[pi] * row_floats,
                       recv_rows_[pi] * row_floats * std::int64_t{sizeof(float)}});
    const auto rows = static_cast<std::int64_t>(send_rows_[pi].size());
    if (rows > 0) recvs.push_back({p, incoming + offset, rows * row_floats * std::int64_t{sizeof(float)}});
    offset += rows * row_floats;
  }
  t.messages_ = comm.start_exchange(sends, recvs);
  t.plan_ = this;
  t.reduce_into_ = local;
  t.row_floats_ = row_floats;
  return t;
}

void HaloPlan::reduce(Communicator& comm, float* local, std::int64_t row_floats) const {
  start_reduce(comm, local, row_floats).finish();
}

void HaloPlan::add_received(const float* received, float* local, std::int64_t row_floats) const {
  std::int64_t offset = 0;
  for (const auto& list : send_rows_) {  // in rank order: the same sums whatever the timing
    add_rows(local + lo_ * row_floats, received + offset, list, row_floats);
    offset += static_cast<std::int64_t>(list.size()) * row_floats;
  }
}

}  // namespace diffuser::diffusion::distributed
