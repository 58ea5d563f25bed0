// Fills a distributed::Stats from the communicator's traffic counters over one call.
#pragma once

#include <diffuser/diffusion/distributed.hpp>
#include <diffuser/engine/sys.hpp>

namespace diffuser::diffusion::distributed {

class StatsScope {
 public:
  StatsScope(Communicator& comm, Stats* stats) : comm_(comm), stats_(stats), before_(comm.traffic()) {}
  ~StatsScope() {
    if (!stats_) return;
    const TrafficCounters& after = comm_.traffic();
    stats_->total_ms = sw_.ms();
    stats_->comm_ms = after.ms - before_.ms;
    stats_->bytes_sent = after.bytes_sent - before_.bytes_sent;
    stats_->bytes_received = after.bytes_received - before_.bytes_received;
  }
  StatsScope(const StatsScope&) = delete;
  StatsScope& operator=(const StatsScope&) = delete;

 private:
  Communicator& comm_;
  Stats* stats_;
  TrafficCounters before_;
  Stopwatch sw_;
};

}  // namespace diffuser::diffusion::distributed
