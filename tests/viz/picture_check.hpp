// Reads pictures back for the tests: PNG files through Cairo's own decoder (pixels and size),
// the size an SVG declares, and the page of a PDF.
#pragma once

#include <array>
#include <string>
#include <utility>
#include <vector>

namespace diffuser::test::viz {

struct Pixels {
  int width = 0, height = 0;
  std::vector<std::array<int, 3>> rgb;  // row-major, top row first
  std::array<int, 3> at(int x, int y) const {
    return rgb[static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)];
  }
};

// Throws std::runtime_error when Cairo cannot decode the bytes as a PNG.
Pixels read_png(const std::string& bytes);
// The width and height attributes of the <svg> element (pixels).
std::pair<int, int> svg_size(const std::string& svg);
// The first page's /MediaBox width and height (points), and the page count; throws unless the
// bytes start with %PDF- and end with %%EOF.
struct PdfInfo {
  double width = 0, height = 0;
  int pages = 0;
};
PdfInfo read_pdf(const std::string& bytes);

}  // namespace diffuser::test::viz
