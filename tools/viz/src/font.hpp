// The text faces of the picture renderer: DejaVu Sans glyph bitmaps for the PNG rasteriser
// (three roles, fixed pixel sizes) and advance widths for laying out SVG text.
#pragma once

#include <cstdint>

#include <diffuser/viz/canvas.hpp>

namespace diffuser::viz {

struct Glyph {
  std::int16_t advance;    // pixels
  std::int16_t left, top;  // bitmap offset from the pen position (top: above the baseline)
  std::uint16_t width, rows;
  std::uint32_t offset;  // byte offset of the first row in the face's bits (4-bit, 2 px a byte)
};

struct BitmapFace {
  int px;                // nominal size in pixels
  long ascent, descent;  // pixels above / below the baseline
  const Glyph* glyphs;   // printable ASCII 32..126
  const unsigned char* bits;
};

const BitmapFace& bitmap_face(FontRole role);
// Advance width of character c in em (DejaVu Sans, unhinted); '?'-like 0.6 outside ASCII.
double advance_em(char c, bool bold);

}  // namespace diffuser::viz
