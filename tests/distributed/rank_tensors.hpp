// Inputs of the distributed tests: whole tensors that every rank draws identically (by element
// index, so no communication is needed to agree on them) and a rank's rows of one as a view.
#pragma once

#include <cstdint>

#include <diffuser/engine/random.hpp>
#include <diffuser/engine/tensor.hpp>

namespace diffuser::test {

inline Tensor3<float> same_on_every_rank(std::int64_t n, std::int64_t h, std::int64_t d, std::uint64_t seed,
                                         std::uint64_t stream) {
  Tensor3<float> t(n, h, d);
  for (std::int64_t i = 0; i < t.buffer().size(); ++i)
    t.buffer()[i] = static_cast<float>(rng::normal(seed, stream, static_cast<std::uint64_t>(i)));
  return t;
}

// Rows [begin, end) of a whole (N, H, D) tensor as a view.
inline Tensor3View<const float> rows_of(const Tensor3<float>& t, std::int64_t begin, std::int64_t end) {
  return tensor3_view<const float>(t.buffer().data() + begin * t.h() * t.d(), end - begin, t.h(), t.d());
}

}  // namespace diffuser::test
