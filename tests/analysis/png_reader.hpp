// Reads back what diffuser's PNG writer produces, for the tests: chunk walk with CRC checks, an
// inflater for stored and fixed-Huffman deflate blocks, and PNG row unfiltering (RGB 8-bit).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace diffuser::test::analysis {

struct DecodedPng {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;
};

// Throws std::runtime_error on anything unexpected (bad signature, CRC, Adler-32, block type).
std::vector<std::uint8_t> inflate_zlib(const std::vector<std::uint8_t>& z);
DecodedPng decode_png(const std::string& bytes);
// Width and height from the IHDR chunk only.
bool png_size(const std::string& bytes, int& width, int& height);

}  // namespace diffuser::test::analysis
