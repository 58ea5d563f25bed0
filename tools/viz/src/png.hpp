// A small PNG writer with no library behind it: 8-bit RGB, per-row filters, and a zlib stream
// from an LZ77 + fixed-Huffman deflate encoder (plus CRC-32 and Adler-32).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace diffuser::viz {

// A deflate stream (RFC 1951) of `data`: LZ77 over a 32 KiB window with fixed Huffman codes.
std::vector<std::uint8_t> deflate_fixed(const std::uint8_t* data, std::size_t size);
// zlib wrapper (RFC 1950): header, deflate stream, Adler-32.
std::vector<std::uint8_t> zlib_compress(const std::uint8_t* data, std::size_t size);
std::uint32_t crc32(const std::uint8_t* data, std::size_t size, std::uint32_t crc = 0);
std::uint32_t adler32(const std::uint8_t* data, std::size_t size);

// The bytes of a PNG file for a width x height RGB image (rgb: 3 bytes a pixel, rows top down).
std::string encode_png(int width, int height, const std::vector<std::uint8_t>& rgb);

}  // namespace diffuser::viz
