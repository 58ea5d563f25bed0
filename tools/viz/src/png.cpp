#include "png.hpp"

#include <array>
#include <cstdlib>

#include <diffuser/engine/error.hpp>

namespace diffuser::viz {

namespace {

class BitWriter {
 public:
  explicit BitWriter(std::vector<std::uint8_t>& out) : out_(out) {}
  // Writes the low `count` bits of `bits`, least significant first (deflate's bit order).
  void bits(std::uint32_t bits, int count) {
    acc_ |= static_cast<std::uint64_t>(bits) << used_;
    used_ += count;
    while (used_ >= 8) {
      out_.push_back(static_cast<std::uint8_t>(acc_));
      acc_ >>= 8;
      used_ -= 8;
    }
  }
  // Huffman codes go most significant bit first.
  void code(std::uint32_t code, int len) {
    std::uint32_t rev = 0;
    for (int i = 0; i < len; ++i) rev |= ((code >> i) & 1u) << (len - 1 - i);
    bits(rev, len);
  }
  void flush() {
    if (used_ > 0) out_.push_back(static_cast<std::uint8_t>(acc_));
    acc_ = 0;
    used_ = 0;
  }

 private:
  std::vector<std::uint8_t>& out_;
  std::uint64_t acc_ = 0;
  int used_ = 0;
};

// Fixed literal/length code (RFC 1951 3.2.6).
void put_litlen(BitWriter& w, int sym) {
  if (sym < 144)
    w.code(static_cast<std::uint32_t>(0x30 + sym), 8);
  else if (sym < 256)
    w.code(static_cast<std::uint32_t>(0x190 + sym - 144), 9);
  else if (sym < 280)
    w.code(static_cast<std::uint32_t>(sym - 256), 7);
  else
    w.code(static_cast<std::uint32_t>(0xC0 + sym - 280), 8);
}

constexpr std::array<int, 29> kLenBase = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                          31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr std::array<int, 29> kLenExtra = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                           2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr std::array<int, 30> kDistBase = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                           33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                           1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
constexpr std::array<int, 30> kDistExtra = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                            6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

void put_match(BitWriter& w, int len, int dist) {
  int li = 28;
  while (kLenBase[static_cast<std::size_t>(li)] > len) --li;
  put_litlen(w, 257 + li);
  w.bits(static_cast<std::uint32_t>(len - kLenBase[static_cast<std::size_t>(li)]),
         kLenExtra[static_cast<std::size_t>(li)]);
  int di = 29;
  while (kDistBase[static_cast<std::size_t>(di)] > dist) --di;
  w.code(static_cast<std::uint32_t>(di), 5);
  w.bits(static_cast<std::uint32_t>(dist - kDistBase[static_cast<std::size_t>(di)]),
         kDistExtra[static_cast<std::size_t>(di)]);
}

void put_chunk(std::string& png, const char* type, const std::vector<std::uint8_t>& data) {
  auto be32 = [&](std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) png.push_back(static_cast<char>((v >> s) & 0xFF));
  };
  be32(static_cast<std::uint32_t>(data.size()));
  std::vector<std::uint8_t> body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  png.append(reinterpret_cast<const char*>(body.data()), body.size());
  be32(crc32(body.data(), body.size()));
}

}  // namespace

std::uint32_t crc32(const std::uint8_t* data, std::size_t size, std::uint32_t crc) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t n = 0; n < 256; ++n) {
      std::uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

std::uint32_t adler32(const std::uint8_t* data, std::size_t size) {
  std::uint32_t a = 1, b = 0;
  for (std::size_t i = 0; i < size; ++i) {
    a = (a + data[i]) % 65521u;
    b = (b + a) % 65521u;
  }
  return (b << 16) | a;
}

std::vector<std::uint8_t> deflate_fixed(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> out;
  BitWriter w(out);
  w.bits(1, 1);  // BFINAL: one block
  w.bits(1, 2);  // BTYPE 01: fixed Huffman
  constexpr int kHashBits = 15, kWindow = 32768, kMaxChain = 24, kMaxLen = 258;
  std::vector<std::int32_t> head(std::size_t{1} << kHashBits, -1), prev(size, -1);
  auto hash = [&](std::size_t i) {
    return ((static_cast<std::uint32_t>(data[i]) << 16 | static_cast<std::uint32_t>(data[i + 1]) << 8 |
             data[i + 2]) *
            2654435761u) >>
           (32 - kHashBits);
  };
  std::size_t i = 0;
  auto insert = [&](std::size_t p) {
    if (p + 2 >= size) return;
    const std::uint32_t h = hash(p);
    prev[p] = head[h];
    head[h] = static_cast<std::int32_t>(p);
  };
  while (i < size) {
    int best_len = 0, best_dist = 0;
    if (i + 2 < size) {
      int chain = kMaxChain;
      for (std::int32_t c = head[hash(i)]; c >= 0 && chain-- > 0; c = prev[static_cast<std::size_t>(c)]) {
        const auto dist = static_cast<int>(i - static_cast<std::size_t>(c));
        if (dist > kWindow) break;
        int len = 0;
        const int max_len = static_cast<int>(std::min<std::size_t>(kMaxLen, size - i));
        while (len < max_len && data[static_cast<std::size_t>(c) + static_cast<std::size_t>(len)] ==
                                    data[i + static_cast<std::size_t>(len)])
          ++len;
        if (len > best_len) {
          best_len = len;
          best_dist = dist;
          if (len == max_len) break;
        }
      }
    }
    if (best_len >= 3) {
      put_match(w, best_len, best_dist);
      for (int k = 0; k < best_len; ++k) insert(i + static_cast<std::size_t>(k));
      i += static_cast<std::size_t>(best_len);
    } else {
      put_litlen(w, data[i]);
      insert(i);
      ++i;
    }
  }
  put_litlen(w, 256);  // end of block
  w.flush();
  return out;
}

std::vector<std::uint8_t> zlib_compress(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> out{0x78, 0x01};  // deflate, 32 KiB window, no dictionary; (0x7801 % 31 == 0)
  const std::vector<std::uint8_t> body = deflate_fixed(data, size);
  out.insert(out.end(), body.begin(), body.end());
  const std::uint32_t a = adler32(data, size);
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>((a >> s) & 0xFF));
  return out;
}

std::string encode_png(int width, int height, const std::vector<std::uint8_t>& rgb) {
  if (width <= 0 || height <= 0 ||
      rgb.size() != static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3)
    throw Error(cat("PNG: bad image size ", width, " x ", height, " for ", rgb.size(), " bytes"));
  // Filter each row with whichever of None, Sub and Up has the smallest sum of |bytes| (libpng's
  // heuristic): flat heat maps compress far better after Up.
  const std::size_t stride = static_cast<std::size_t>(width) * 3;
  std::vector<std::uint8_t> raw;
  raw.reserve((stride + 1) * static_cast<std::size_t>(height));
  std::vector<std::uint8_t> cand[3];
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* row = rgb.data() + static_cast<std::size_t>(y) * stride;
    const std::uint8_t* up = y > 0 ? row - stride : nullptr;
    long best_sum = -1;
    int best = 0;
    for (int f = 0; f < 3; ++f) {
      cand[f].resize(stride);
      long sum = 0;
      for (std::size_t x = 0; x < stride; ++x) {
        const int left = x >= 3 ? row[x - 3] : 0;
        const int above = up ? up[x] : 0;
        const int pred = f == 0 ? 0 : (f == 1 ? left : above);
        const auto v = static_cast<std::uint8_t>(row[x] - pred);
        cand[f][x] = v;
        sum += v < 128 ? v : 256 - v;
      }
      if (best_sum < 0 || sum < best_sum) {
        best_sum = sum;
        best = f;
      }
    }
    raw.push_back(static_cast<std::uint8_t>(best));
    raw.insert(raw.end(), cand[best].begin(), cand[best].end());
  }
  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::vector<std::uint8_t> ihdr;
  for (const int v : {width, height})
    for (int s = 24; s >= 0; s -= 8)
      ihdr.push_back(static_cast<std::uint8_t>((static_cast<std::uint32_t>(v) >> s) & 0xFF));
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // 8-bit, RGB, deflate, adaptive filters, no interlace
  put_chunk(png, "IHDR", ihdr);
  put_chunk(png, "IDAT", zlib_compress(raw.data(), raw.size()));
  put_chunk(png, "IEND", {});
  return png;
}

}  // namespace diffuser::viz
