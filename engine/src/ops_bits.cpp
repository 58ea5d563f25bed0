// Argument checks of the bitset primitives (ops_bits.hpp), then dispatch to the operands' device.
#include <cstdint>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/ops_bits.hpp>

#include "../cpu/dispatch.hpp"
#include "../cuda/backend.hpp"

namespace diffuser::ops {

namespace {

template <class A, class B>
bool overlaps(const Span<A>& a, const Span<B>& b) {
  if (a.size == 0 || b.size == 0) return false;
  const auto lo_a = reinterpret_cast<std::uintptr_t>(a.data), lo_b = reinterpret_cast<std::uintptr_t>(b.data);
  const auto hi_a = lo_a + static_cast<std::uintptr_t>(a.size) * sizeof(A);
  const auto hi_b = lo_b + static_cast<std::uintptr_t>(b.size) * sizeof(B);
  return lo_a < hi_b && lo_b < hi_a;
}

template <class T>
void check_bits(const char* op, Span<T> s, Device device, std::int64_t n, std::int64_t words,
                const char* what) {
  DIFFUSER_CHECK(s.device == device, op, ": ", what, " is on ", device_name(s.device),
                 " but the other operands are on ", device_name(device));
  DIFFUSER_CHECK(s.size == n * words, op, ": ", what, " holds ", s.size, " words but ", n, " nodes x ", words,
                 " words need ", n * words);
  DIFFUSER_CHECK(s.size == 0 || s.data != nullptr, op, ": ", what, " has no data");
}

void check_words(const char* op, std::int64_t n, std::int64_t words) {
  DIFFUSER_CHECK(words >= 1, op, ": words per node must be >= 1, got ", words);
  DIFFUSER_CHECK(n == 0 || words <= (std::int64_t{1} << 40) / n, op, ": ", n, " nodes x ", words,
                 " words is too large");
}

}  // namespace

void frontier_pull(const CsrView& g, Span<const std::uint64_t> frontier, Span<std::uint64_t> next,
                   std::int64_t words) {
  constexpr const char* op = "frontier_pull";
  check_words(op, g.n, words);
  check_bits(op, frontier, g.device, g.n, words, "frontier");
  check_bits(op, next, g.device, g.n, words, "next");
  DIFFUSER_CHECK(!overlaps(frontier, next), op, ": next must not overlap frontier");
  if (g.n == 0) return;
  if (g.device == Device::cuda) return cuda::frontier_pull(g, frontier.data, next.data, words);
  cpu::run([&]<class K>(const cpu::Tuning&) { K::frontier_pull(g, frontier.data, next.data, words); });
}

void frontier_advance(Span<const std::uint64_t> next, Span<std::uint64_t> visited,
                      Span<std::uint64_t> frontier, std::int64_t words, Span<std::int64_t> new_counts) {
  constexpr const char* op = "frontier_advance";
  const std::int64_t n = new_counts.size;
  const Device d = new_counts.device;
  check_words(op, n, words);
  DIFFUSER_CHECK(n == 0 || new_counts.data != nullptr, op, ": new_counts has no data");
  check_bits(op, next, d, n, words, "next");
  check_bits(op, visited, d, n, words, "visited");
  check_bits(op, frontier, d, n, words, "frontier");
  DIFFUSER_CHECK(!overlaps(next, visited) && !overlaps(next, frontier) &&
                     !overlaps(Span<const std::uint64_t>(visited), frontier),
                 op, ": next, visited and frontier must not overlap");
  if (n == 0) return;
  if (d == Device::cuda)
    return cuda::frontier_advance(next.data, visited.data, frontier.data, words, n, new_counts.data);
  cpu::run([&]<class K>(const cpu::Tuning&) {
    K::frontier_advance(next.data, visited.data, frontier.data, words, n, new_counts.data);
  });
}

}  // namespace diffuser::ops
