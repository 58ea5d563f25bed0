#include <algorithm>

#include <diffuser/diffusion/distributed.hpp>
#include <diffuser/engine/error.hpp>

namespace diffuser::diffusion::distributed {

Split Split::even(std::int64_t count, int parts) {
  DIFFUSER_CHECK(parts >= 1 && count >= 0, "Split: ", count, " items over ", parts, " parts");
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(parts), count / parts);
  for (std::int64_t p = 0; p < count % parts; ++p) ++sizes[static_cast<std::size_t>(p)];
  return from_sizes(sizes);
}

Split Split::from_sizes(std::span<const std::int64_t> sizes) {
  DIFFUSER_CHECK(!sizes.empty(), "Split: no parts");
  Split s;
  for (std::int64_t n : sizes) {
    DIFFUSER_CHECK(n >= 0, "Split: a part of negative size ", n);
    s.offsets_.push_back(s.offsets_.back() + n);
  }
  return s;
}

int Split::owner(std::int64_t i) const {
  // The last offset <= i among the part starts; empty parts share their start with the next one.
  const auto it = std::upper_bound(offsets_.begin(), offsets_.end() - 1, i);
  return static_cast<int>(it - offsets_.begin()) - 1;
}

}  // namespace diffuser::diffusion::distributed
