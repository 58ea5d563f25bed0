// The PNG writer: deflate/zlib round trips through an independent inflater, and pixel-exact PNG
// round trips with valid chunk CRCs.
#include <catch2/catch.hpp>

#include <diffuser/engine/random.hpp>

#include "../tools/viz/src/png.hpp"
#include "analysis/png_reader.hpp"

using namespace diffuser;
using test::analysis::decode_png;
using test::analysis::inflate_zlib;

TEST_CASE("zlib streams inflate back to their input", "[cpu][analysis]") {
  std::vector<std::vector<std::uint8_t>> inputs;
  inputs.emplace_back();
  inputs.push_back({42});
  inputs.emplace_back(100000, 7);  // long runs: maximal matches
  std::vector<std::uint8_t> noise(70000), text;
  for (std::size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<std::uint8_t>(rng::bits(3, 0, i));
  inputs.push_back(noise);
  for (int r = 0; r < 2000; ++r)
    for (const char c : std::string("the token attends to its sources; "))
      text.push_back(static_cast<std::uint8_t>(c + r % 3));
  inputs.push_back(text);
  for (const auto& in : inputs) {
    INFO("size " << in.size());
    const auto z = viz::zlib_compress(in.data(), in.size());
    CHECK(inflate_zlib(z) == in);
    if (in.size() == 100000) CHECK(z.size() < 1000);
  }
  CHECK(viz::crc32(reinterpret_cast<const std::uint8_t*>("123456789"), 9) == 0xCBF43926u);
  CHECK(viz::adler32(reinterpret_cast<const std::uint8_t*>("Wikipedia"), 9) == 0x11E60398u);
}

TEST_CASE("PNG files decode to the pixels written", "[cpu][analysis]") {
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{1, 1}, {3, 2}, {257, 65}}) {
    std::vector<std::uint8_t> rgb(static_cast<std::size_t>(w * h * 3));
    for (std::size_t i = 0; i < rgb.size(); ++i)
      rgb[i] = static_cast<std::uint8_t>((i % 7 == 0) ? rng::bits(1, 1, i) : i / 97);
    const std::string png = viz::encode_png(w, h, rgb);
    const auto d = decode_png(png);
    CHECK(d.width == w);
    CHECK(d.height == h);
    CHECK(d.rgb == rgb);
  }
  CHECK_THROWS(viz::encode_png(2, 2, std::vector<std::uint8_t>(5)));
}
