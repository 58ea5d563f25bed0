#include "row_powers.hpp"

namespace diffuser::diffusion::detail {

RowWeights::RowWeights(const Csr& graph, MatrixView<const float> weights, int h)
    : g(graph.view()), w(weights), head(h) {
  const std::int64_t n = g.n;
  self.assign(static_cast<std::size_t>(n), 0);
  if (!w.data) inv_deg.assign(static_cast<std::size_t>(n), 0.0f);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t b = g.row_ptr[i], e = g.row_ptr[i + 1];
    if (!w.data) {
      if (b == e)
        self[static_cast<std::size_t>(i)] = 1;
      else
        inv_deg[static_cast<std::size_t>(i)] = 1.0f / static_cast<float>(e - b);
      continue;
    }
    double sum = 0;
    for (std::int64_t p = b; p < e; ++p) sum += w.row(p)[h];
    if (!(sum > 0.0)) self[static_cast<std::size_t>(i)] = 1;
  }
}

void RowPowers::start(std::int64_t n, const std::int64_t* seeds, int count) {
  const auto un = static_cast<std::size_t>(n);
  if (cur_.size() != un) {
    cur_.assign(un, RowLanes{});
    next_.assign(un, RowLanes{});
    flag_.assign(un, 0);
  }
  active_.clear();
  for (int b = 0; b < count; ++b) {
    const auto t = static_cast<std::size_t>(seeds[b]);
    cur_[t].v[b] = 1.0f;
    if (!flag_[t]) {
      flag_[t] = 1;
      active_.push_back(static_cast<std::int32_t>(t));
    }
  }
}

void RowPowers::touch(std::int32_t v) {
  if (!flag_[static_cast<std::size_t>(v)]) {
    flag_[static_cast<std::size_t>(v)] = 1;
    next_active_.push_back(v);
  }
}

void RowPowers::step(const RowWeights& W) {
  const CsrView& g = W.g;
  next_active_.clear();
  for (const std::int32_t j : active_) flag_[static_cast<std::size_t>(j)] = 0;
  for (const std::int32_t j : active_) {
    const RowLanes& r = cur_[static_cast<std::size_t>(j)];
    if (W.self[static_cast<std::size_t>(j)]) {
      RowLanes& o = next_[static_cast<std::size_t>(j)];
      for (int l = 0; l < kLanes; ++l) o.v[l] += r.v[l];
      touch(j);
      continue;
    }
    for (std::int64_t e = g.row_ptr[j]; e < g.row_ptr[j + 1]; ++e) {
      const float a = W.at(j, e);
      RowLanes& o = next_[static_cast<std::size_t>(g.col[e])];
      for (int l = 0; l < kLanes; ++l) o.v[l] += a * r.v[l];
      touch(g.col[e]);
    }
  }
  for (const std::int32_t j : active_) cur_[static_cast<std::size_t>(j)] = RowLanes{};
  cur_.swap(next_);
  active_.swap(next_active_);
}

void RowPowers::clear() {
  for (const std::int32_t j : active_) {
    cur_[static_cast<std::size_t>(j)] = RowLanes{};
    flag_[static_cast<std::size_t>(j)] = 0;
  }
  active_.clear();
}

}  // namespace diffuser::diffusion::detail
