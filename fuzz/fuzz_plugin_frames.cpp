// What a plugin's child process sends back: the parent's frame decoder must refuse anything
// malformed with an Error, whatever the bytes and however they are split.
#include "../graphs/src/plugin_frames.hpp"
#include "fuzz_common.hpp"

DIFFUSER_FUZZ_INIT

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace diffuser;
  if (size < 1) return 0;
  const std::size_t piece = 1 + data[0] % 16;
  const auto in = fuzz::bytes(data + 1, size - 1);
  fuzz::refusals_ok([&] {
    EdgeList edges;
    graphs::detail::FrameDecoder d("fuzz.so", 1000, edges);
    for (std::size_t at = 0; at < in.size(); at += piece) d.feed(in.substr(at, piece));
    for (std::size_t k = 0; k < edges.src.size(); ++k)
      if (edges.src[k] < 0 || edges.src[k] >= 1000 || edges.dst[k] < 0 || edges.dst[k] >= 1000)
        __builtin_trap();
  });
  return 0;
}
