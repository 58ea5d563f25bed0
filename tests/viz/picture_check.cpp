#include "viz/picture_check.hpp"

#include <cairo.h>

#include <cstring>
#include <regex>
#include <stdexcept>

namespace diffuser::test::viz {

namespace {

struct Reader {
  const std::string& bytes;
  std::size_t pos = 0;
};

cairo_status_t read_bytes(void* closure, unsigned char* data, unsigned int length) {
  auto* r = static_cast<Reader*>(closure);
  if (r->pos + length > r->bytes.size()) return CAIRO_STATUS_READ_ERROR;
  std::memcpy(data, r->bytes.data() + r->pos, length);
  r->pos += length;
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

Pixels read_png(const std::string& bytes) {
  Reader r{bytes};
  cairo_surface_t* s = cairo_image_surface_create_from_png_stream(read_bytes, &r);
  if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
    const std::string why = cairo_status_to_string(cairo_surface_status(s));
    cairo_surface_destroy(s);
    throw std::runtime_error("not a PNG Cairo can read: " + why);
  }
  cairo_surface_flush(s);
  Pixels p;
  p.width = cairo_image_surface_get_width(s);
  p.height = cairo_image_surface_get_height(s);
  const int stride = cairo_image_surface_get_stride(s);
  const unsigned char* data = cairo_image_surface_get_data(s);
  const cairo_format_t format = cairo_image_surface_get_format(s);
  p.rgb.reserve(static_cast<std::size_t>(p.width) * static_cast<std::size_t>(p.height));
  for (int y = 0; y < p.height; ++y) {
    const auto* row = reinterpret_cast<const std::uint32_t*>(data + static_cast<std::ptrdiff_t>(y) * stride);
    for (int x = 0; x < p.width; ++x) {
      const std::uint32_t v = row[x];
      if (format != CAIRO_FORMAT_RGB24 && format != CAIRO_FORMAT_ARGB32) {
        cairo_surface_destroy(s);
        throw std::runtime_error("unexpected PNG pixel format");
      }
      // Our pictures are opaque, so the premultiplied ARGB32 values are the colours themselves.
      p.rgb.push_back(
          {static_cast<int>((v >> 16) & 255), static_cast<int>((v >> 8) & 255), static_cast<int>(v & 255)});
    }
  }
  cairo_surface_destroy(s);
  return p;
}

std::pair<int, int> svg_size(const std::string& svg) {
  std::smatch m;
  if (!std::regex_search(svg, m, std::regex("<svg[^>]* width=\"([0-9.]+)(px)?\" height=\"([0-9.]+)(px)?\"")))
    throw std::runtime_error("no <svg width=.. height=..> element");
  return {static_cast<int>(std::stod(m[1])), static_cast<int>(std::stod(m[3]))};
}

PdfInfo read_pdf(const std::string& bytes) {
  if (bytes.rfind("%PDF-", 0) != 0) throw std::runtime_error("no %PDF- header");
  const auto eof = bytes.rfind("%%EOF");
  if (eof == std::string::npos || bytes.size() - eof > 8) throw std::runtime_error("no %%EOF trailer");
  PdfInfo info;
  std::smatch m;
  if (!std::regex_search(bytes, m, std::regex("/MediaBox \\[ *0 +0 +([0-9.]+) +([0-9.]+) *\\]")))
    throw std::runtime_error("no /MediaBox");
  info.width = std::stod(m[1]);
  info.height = std::stod(m[2]);
  const std::regex page("/Type */Page[^s]");
  info.pages = static_cast<int>(
      std::distance(std::sregex_iterator(bytes.begin(), bytes.end(), page), std::sregex_iterator()));
  return info;
}

}  // namespace diffuser::test::viz
