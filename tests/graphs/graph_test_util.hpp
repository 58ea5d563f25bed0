// Helpers for the graphs/ tests: dense adjacency matrices for brute-force definitions, and
// scratch directories for file round trips.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <diffuser/engine/csr.hpp>
#include <diffuser/engine/error.hpp>

namespace diffuser::graphs::testing {

// A[i][j] = 1 when token i attends to token j (edge j -> i), as plain nested loops fill it.
class Dense {
 public:
  explicit Dense(std::int64_t n) : n_(n), a_(static_cast<std::size_t>(n * n), 0) {}
  std::int64_t n() const { return n_; }
  // Edge src -> dst: dst attends to src.
  void edge(std::int64_t src, std::int64_t dst) { a_[static_cast<std::size_t>(dst * n_ + src)] = 1; }
  bool has(std::int64_t src, std::int64_t dst) const { return a_[static_cast<std::size_t>(dst * n_ + src)] != 0; }
  Csr to_csr() const {
    EdgeList e;
    e.n = n_;
    for (std::int64_t i = 0; i < n_; ++i)
      for (std::int64_t j = 0; j < n_; ++j)
        if (has(j, i)) e.add(static_cast<std::int32_t>(j), static_cast<std::int32_t>(i));
    return Csr::from_edges(e);
  }
  static Dense from_csr(const Csr& g) {
    Dense d(g.num_nodes());
    for (std::int64_t i = 0; i < g.num_nodes(); ++i)
      for (const auto j : g.neighbors(i)) d.edge(j, i);
    return d;
  }
  bool operator==(const Dense& o) const { return n_ == o.n_ && a_ == o.a_; }

 private:
  std::int64_t n_;
  std::vector<char> a_;
};

// A fresh directory under the system temp dir, removed with its contents at scope exit.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            cat("diffuser-graphs-", tag, "-", ::getpid(), "-", counter++);
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  // Writes `text` to a file in this directory and returns its path.
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    const auto p = path_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace diffuser::graphs::testing
