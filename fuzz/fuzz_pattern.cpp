// Pattern expressions: the parser, and for expressions without files or plugins both builders
// on a small N, which must give the same graph (build_pattern unions rows, pattern_edges lists
// edges for Csr::from_edges).
#include <diffuser/engine/csr.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "fuzz_common.hpp"

DIFFUSER_FUZZ_INIT

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace diffuser;
  if (size < 2) return 0;
  const std::int64_t n = 1 + data[0] % 128;
  const std::uint64_t seed = data[1];
  const std::string spec(fuzz::bytes(data + 2, size - 2));
  fuzz::refusals_ok([&] {
    for (const auto& t : graphs::parse_pattern(spec))
      if (t.name == "file" || t.name == "plugin") return;  // would read files or run code
    const Csr a = graphs::build_pattern(spec, n, seed);
    const Csr b = Csr::from_edges(graphs::pattern_edges(spec, n, seed));
    a.validate();
    if (!(a == b)) __builtin_trap();
  });
  return 0;
}
