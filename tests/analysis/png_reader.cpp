#include "analysis/png_reader.hpp"

#include <stdexcept>

#include "../tools/viz/src/png.hpp"

namespace diffuser::test::analysis {

namespace {

struct Bits {
  const std::vector<std::uint8_t>& d;
  std::size_t pos = 0;  // bit position
  std::uint32_t get(int n) {
    std::uint32_t v = 0;
    for (int i = 0; i < n; ++i, ++pos) {
      if (pos / 8 >= d.size()) throw std::runtime_error("inflate: out of data");
      v |= static_cast<std::uint32_t>((d[pos / 8] >> (pos % 8)) & 1u) << i;
    }
    return v;
  }
  std::uint32_t get_msb(int n) {  // Huffman bits, first bit most significant
    std::uint32_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 1) | get(1);
    return v;
  }
};

int fixed_litlen(Bits& b) {
  std::uint32_t c = b.get_msb(7);
  if (c <= 0x17) return static_cast<int>(256 + c);
  c = (c << 1) | b.get(1);
  if (c >= 0x30 && c <= 0xBF) return static_cast<int>(c - 0x30);
  if (c >= 0xC0 && c <= 0xC7) return static_cast<int>(280 + c - 0xC0);
  c = (c << 1) | b.get(1);
  return static_cast<int>(144 + c - 0x190);
}

std::uint32_t be32(const std::string& s, std::size_t p) {
  return static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[p])) << 24 |
         static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[p + 1])) << 16 |
         static_cast<std::uint32_t>(static_cast<std::uint8_t>(s[p + 2])) << 8 |
         static_cast<std::uint8_t>(s[p + 3]);
}

}  // namespace

std::vector<std::uint8_t> inflate_zlib(const std::vector<std::uint8_t>& z) {
  static const int kLenBase[] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
  static const int kLenExtra[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                  2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
  static const int kDistBase[] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                  33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                  1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
  static const int kDistExtra[] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                   6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
  if (z.size() < 6 || (z[0] * 256 + z[1]) % 31 != 0 || (z[0] & 0x0F) != 8)
    throw std::runtime_error("zlib: bad header");
  const std::vector<std::uint8_t> body(z.begin() + 2, z.end() - 4);
  Bits b{body};
  std::vector<std::uint8_t> out;
  for (bool last = false; !last;) {
    last = b.get(1) != 0;
    const std::uint32_t type = b.get(2);
    if (type == 0) {
      b.pos = (b.pos + 7) / 8 * 8;
      const std::uint32_t len = b.get(16), nlen = b.get(16);
      if ((len ^ 0xFFFFu) != nlen) throw std::runtime_error("inflate: bad stored block");
      for (std::uint32_t i = 0; i < len; ++i) out.push_back(static_cast<std::uint8_t>(b.get(8)));
      continue;
    }
    if (type != 1) throw std::runtime_error("inflate: only stored and fixed blocks are expected");
    for (;;) {
      const int sym = fixed_litlen(b);
      if (sym < 256) {
        out.push_back(static_cast<std::uint8_t>(sym));
        continue;
      }
      if (sym == 256) break;
      const int li = sym - 257;
      if (li > 28) throw std::runtime_error("inflate: bad length code");
      const int len = kLenBase[li] + static_cast<int>(b.get(kLenExtra[li]));
      const int di = static_cast<int>(b.get_msb(5));
      if (di > 29) throw std::runtime_error("inflate: bad distance code");
      const int dist = kDistBase[di] + static_cast<int>(b.get(kDistExtra[di]));
      if (dist > static_cast<int>(out.size())) throw std::runtime_error("inflate: distance too far back");
      for (int i = 0; i < len; ++i) out.push_back(out[out.size() - static_cast<std::size_t>(dist)]);
    }
  }
  const std::uint32_t adler = static_cast<std::uint32_t>(z[z.size() - 4]) << 24 |
                              static_cast<std::uint32_t>(z[z.size() - 3]) << 16 |
                              static_cast<std::uint32_t>(z[z.size() - 2]) << 8 | z[z.size() - 1];
  if (adler != viz::adler32(out.data(), out.size())) throw std::runtime_error("zlib: Adler-32 mismatch");
  return out;
}

bool png_size(const std::string& s, int& width, int& height) {
  if (s.size() < 24 || s.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) != 0 ||
      s.compare(12, 4, "IHDR") != 0)
    return false;
  width = static_cast<int>(be32(s, 16));
  height = static_cast<int>(be32(s, 20));
  return true;
}

DecodedPng decode_png(const std::string& s) {
  DecodedPng png;
  if (!png_size(s, png.width, png.height)) throw std::runtime_error("PNG: bad signature or IHDR");
  std::vector<std::uint8_t> idat;
  bool end = false;
  for (std::size_t p = 8; p + 12 <= s.size() && !end;) {
    const std::uint32_t len = be32(s, p);
    const std::string type = s.substr(p + 4, 4);
    const auto* data = reinterpret_cast<const std::uint8_t*>(s.data() + p + 4);
    if (viz::crc32(data, len + 4) != be32(s, p + 8 + len))
      throw std::runtime_error("PNG: CRC mismatch in " + type);
    if (type == "IHDR" && (s[p + 16] != 8 || s[p + 17] != 2))
      throw std::runtime_error("PNG: expected 8-bit RGB");
    if (type == "IDAT") idat.insert(idat.end(), data + 4, data + 4 + len);
    end = type == "IEND";
    p += 12 + len;
  }
  if (!end) throw std::runtime_error("PNG: no IEND");
  const std::vector<std::uint8_t> raw = inflate_zlib(idat);
  const std::size_t stride = static_cast<std::size_t>(png.width) * 3;
  if (raw.size() != (stride + 1) * static_cast<std::size_t>(png.height))
    throw std::runtime_error("PNG: wrong data size");
  png.rgb.resize(stride * static_cast<std::size_t>(png.height));
  for (int y = 0; y < png.height; ++y) {
    const int filter = raw[static_cast<std::size_t>(y) * (stride + 1)];
    for (std::size_t x = 0; x < stride; ++x) {
      const std::uint8_t v = raw[static_cast<std::size_t>(y) * (stride + 1) + 1 + x];
      const int left = x >= 3 ? png.rgb[static_cast<std::size_t>(y) * stride + x - 3] : 0;
      const int up = y > 0 ? png.rgb[static_cast<std::size_t>(y - 1) * stride + x] : 0;
      int pred = 0;
      if (filter == 1)
        pred = left;
      else if (filter == 2)
        pred = up;
      else if (filter != 0)
        throw std::runtime_error("PNG: unexpected filter");
      png.rgb[static_cast<std::size_t>(y) * stride + x] = static_cast<std::uint8_t>(v + pred);
    }
  }
  return png;
}

}  // namespace diffuser::test::analysis
