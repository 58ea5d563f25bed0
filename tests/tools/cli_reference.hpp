// A small random attention problem for the CLI tests, written as files, and its float64 dense
// reference: A = masked softmax of q.k/sqrt(D) over the graph's edges, Z by explicit hop loops.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace diffuser::test::cli {

struct Problem {
  std::int64_t n = 0, h = 0, d = 0;
  std::vector<float> q, k, v;      // (n, h, d)
  std::vector<std::uint8_t> adj;   // n * n; adj[i * n + j] = 1 for the edge j -> i
  std::vector<std::uint8_t> mask;  // (n,), 1 = real token; empty = all real
};

// Random Q, K, V and graph: about `degree` random sources per token, node 0 a hub (attends to
// every token), node 2 with no incoming edge, self loops on even nodes. Node n - 1 appears in an
// edge, so a graph file's N (largest id + 1) is n.
Problem random_problem(std::int64_t n, std::int64_t h, std::int64_t d, std::uint64_t seed, int degree = 4);

// Writes q.npy k.npy v.npy (float32), g.txt (edge list "src dst") and m.npy (uint8) when masked.
void write_problem(const Problem& p, const std::filesystem::path& dir);

// The dense attention matrices (h, n, n).
std::vector<double> ref_attention(const Problem& p);
// Z0 = V, Z_{k+1} = (1 - alpha) A Z_k + alpha V for K hops; K = 0: Z = A V.
std::vector<double> ref_ppr(const Problem& p, const std::vector<double>& a, int hops, double alpha);
// Z = sum_k theta_k A^k V.
std::vector<double> ref_theta(const Problem& p, const std::vector<double>& a,
                              const std::vector<double>& theta);
// theta_k = e^-t t^k / k! for k < K, theta_K = 1 - their sum.
std::vector<double> heat_theta(int hops, double t);

// ||x - ref|| / ||ref||.
double rel_error(const std::vector<float>& x, const std::vector<double>& ref);

}  // namespace diffuser::test::cli
