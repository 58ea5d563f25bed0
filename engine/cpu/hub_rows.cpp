#include <algorithm>

#include "hub_rows.hpp"

namespace diffuser::cpu {

HubRows find_hub_rows(const CsrView& g, const Tuning& tuning) {
  HubRows hubs;
  if (g.n == 0 || !tuning.hub_rows) return hubs;
  const double mean = static_cast<double>(g.nnz) / static_cast<double>(g.n);
  hubs.threshold = tuning.hub_threshold > 0
                       ? tuning.hub_threshold
                       : std::max<std::int64_t>(1024, static_cast<std::int64_t>(8.0 * mean) + 1);
  for (std::int64_t i = 0; i < g.n; ++i)
    if (g.row_ptr[i + 1] - g.row_ptr[i] >= hubs.threshold) hubs.rows.push_back(i);
  if (hubs.rows.empty()) hubs.threshold = 0;
  return hubs;
}

}  // namespace diffuser::cpu
