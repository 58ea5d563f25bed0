// One graph file format (FUZZ_FORMAT: edge_list, matrix_market, dot, graphml), parsed from memory
// and, when the result is small, built into a Csr whose invariants are then checked.
#include <diffuser/engine/csr.hpp>
#include <diffuser/graphs/formats.hpp>

#include "fuzz_common.hpp"

DIFFUSER_FUZZ_INIT

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace diffuser;
  fuzz::refusals_ok([&] {
    const EdgeList e = graphs::parse_edges(graphs::GraphFormat::FUZZ_FORMAT, fuzz::bytes(data, size), "fuzz");
    if (e.n < 0 || e.n > kMaxNodes || e.src.size() != e.dst.size()) __builtin_trap();
    for (std::size_t k = 0; k < e.src.size(); ++k)
      if (e.src[k] < 0 || e.src[k] >= e.n || e.dst[k] < 0 || e.dst[k] >= e.n) __builtin_trap();
    if (e.n <= (1 << 12)) Csr::from_edges(e).validate();
  });
  return 0;
}
