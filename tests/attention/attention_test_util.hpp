// Shared helpers of the attention tests: test graphs with hub rows and hub columns, conversions
// between engine tensors and the float64 reference vectors.
#pragma once

#include <cstdint>
#include <vector>

#include <diffuser/engine/buffer.hpp>
#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/random.hpp>

#include "support/reference.hpp"

namespace diffuser::test::attn {

// A random graph over n nodes: `deg` random sources per node, node 1 attends to every node (a hub
// row), every node attends to node 0 (a hub column: a heavy row of the reverse graph), and node
// n / 2 has no incoming edge (an empty row).
inline Csr test_graph(std::int64_t n, std::int64_t deg, std::uint64_t seed) {
  const Csr base = random_graph(n, deg, seed, {1}, {static_cast<std::int32_t>(n / 2)});
  EdgeList el = base.edges();
  el.n = n;
  for (std::int64_t i = 0; i < n; ++i)
    if (i != n / 2) el.add(0, static_cast<std::int32_t>(i));
  return Csr::from_edges(el);
}

inline std::vector<double> to_vec(const float* p, std::int64_t n) {
  return std::vector<double>(p, p + n);
}
inline std::vector<double> to_vec(const Tensor3<float>& t) {
  return to_vec(t.buffer().data(), t.buffer().size());
}
inline std::vector<double> to_vec(const Matrix<float>& m) {
  return to_vec(m.buffer().data(), m.buffer().size());
}

inline Tensor3<float> tensor_from(const std::vector<double>& v, std::int64_t n, std::int64_t h,
                                  std::int64_t d) {
  Tensor3<float> t(n, h, d);
  for (std::int64_t i = 0; i < n * h * d; ++i)
    t.buffer()[i] = static_cast<float>(v[static_cast<std::size_t>(i)]);
  return t;
}

inline Matrix<float> matrix_from(const std::vector<double>& v, std::int64_t rows, std::int64_t cols) {
  Matrix<float> m(rows, cols);
  for (std::int64_t i = 0; i < rows * cols; ++i)
    m.buffer()[i] = static_cast<float>(v[static_cast<std::size_t>(i)]);
  return m;
}

// Values rounded to float and back, so the reference sees exactly the engine's inputs.
inline std::vector<double> rounded(std::vector<double> v) {
  for (auto& x : v) x = static_cast<double>(static_cast<float>(x));
  return v;
}

inline std::vector<double> random_values(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = static_cast<double>(static_cast<float>(scale * rng::normal(seed, 9, i)));
  return v;
}

}  // namespace diffuser::test::attn
