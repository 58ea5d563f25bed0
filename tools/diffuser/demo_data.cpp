#include <algorithm>
#include <thread>
#include <vector>

#include <diffuser/engine/random.hpp>

#include "demo_data.hpp"

namespace diffuser::cli {

void fill_normal(Buffer<float>& b, std::uint64_t seed, std::uint64_t stream, int threads) {
  const std::int64_t size = b.size();
  float* data = b.data();
  auto fill = [=](std::int64_t lo, std::int64_t hi) {
    for (std::int64_t i = lo; i < hi; ++i)
      data[i] = static_cast<float>(rng::normal(seed, stream, static_cast<std::uint64_t>(i)));
  };
  const std::int64_t workers = std::clamp<std::int64_t>(threads, 1, std::max<std::int64_t>(1, size / 65536));
  if (workers == 1) {
    fill(0, size);
    return;
  }
  std::vector<std::jthread> pool;
  const std::int64_t chunk = (size + workers - 1) / workers;
  for (std::int64_t w = 1; w < workers; ++w)
    pool.emplace_back(fill, std::min(size, w * chunk), std::min(size, (w + 1) * chunk));
  fill(0, std::min(size, chunk));
}

Checksum checksum(const float* data, std::int64_t count) {
  Checksum c;
  for (std::int64_t i = 0; i < count; ++i) {
    const double x = data[i];
    c.sum += x;
    c.sum_squares += x * x;
  }
  return c;
}

}  // namespace diffuser::cli
