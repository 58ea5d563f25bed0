#include <diffuser/viz/canvas.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include <diffuser/engine/error.hpp>

namespace diffuser::viz {

std::string hex(Rgb c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c.r, c.g, c.b);
  return buf;
}

Rgb mix(Rgb a, Rgb b, double t) {
  auto m = [&](int x, int y) {
    return static_cast<std::uint8_t>(std::lround(x + (y - x) * std::clamp(t, 0.0, 1.0)));
  };
  return {m(a.r, b.r), m(a.g, b.g), m(a.b, b.b)};
}

const char* format_name(Format f) {
  switch (f) {
    case Format::png:
      return "png";
    case Format::svg:
      return "svg";
    case Format::pdf:
      return "pdf";
  }
  return "?";
}

Format format_from_path(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".png") return Format::png;
  if (ext == ".svg") return Format::svg;
  if (ext == ".pdf") return Format::pdf;
  throw UsageError(cat(path.string(), ": the picture format follows the extension: .png, .svg or .pdf"));
}

Image::Image(int w, int h, Rgb fill)
    : width(w), height(h), rgb(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3) {
  for (std::size_t i = 0; i < rgb.size(); i += 3) {
    rgb[i] = fill.r;
    rgb[i + 1] = fill.g;
    rgb[i + 2] = fill.b;
  }
}

Canvas::Canvas(int width, int height, Rgb background)
    : width_(width), height_(height), background_(background) {
  if (width < 1 || height < 1 || width > 32768 || height > 32768)
    throw Error(cat("a picture of ", width, " x ", height, " pixels is out of range (1..32768 a side)"));
}

void Canvas::rect(double x, double y, double w, double h, Rgb fill, const std::string& tag) {
  Item it;
  it.kind = Kind::rect;
  it.x = x, it.y = y, it.w = w, it.h = h, it.color = fill, it.tag = tag;
  add(std::move(it));
}
void Canvas::frame(double x, double y, double w, double h, Rgb stroke, double width) {
  Item it;
  it.kind = Kind::frame;
  it.x = x, it.y = y, it.w = w, it.h = h, it.color = stroke, it.width = width;
  add(std::move(it));
}
void Canvas::line(double x1, double y1, double x2, double y2, Rgb stroke, double width, bool dashed) {
  Item it;
  it.kind = Kind::line;
  it.x = x1, it.y = y1, it.w = x2, it.h = y2, it.color = stroke, it.width = width, it.dashed = dashed;
  add(std::move(it));
}
void Canvas::polyline(const std::vector<std::pair<double, double>>& points, Rgb stroke, double width) {
  Item it;
  it.kind = Kind::polyline;
  it.points = points, it.color = stroke, it.width = width;
  add(std::move(it));
}
void Canvas::circle(double cx, double cy, double r, Rgb fill) {
  Item it;
  it.kind = Kind::circle;
  it.x = cx, it.y = cy, it.w = r, it.color = fill;
  add(std::move(it));
}
void Canvas::text(double x, double y, const std::string& s, FontRole role, Rgb color, Anchor anchor,
                  bool vertical) {
  Item it;
  it.kind = Kind::text;
  it.x = x, it.y = y, it.text = s, it.role = role, it.color = color, it.anchor = anchor,
  it.vertical = vertical;
  add(std::move(it));
}
void Canvas::image(double x, double y, double w, double h, Image img) {
  if (img.width < 1 || img.height < 1 ||
      img.rgb.size() != static_cast<std::size_t>(img.width) * static_cast<std::size_t>(img.height) * 3)
    throw Error(cat("a picture's image of ", img.width, " x ", img.height, " holds ", img.rgb.size(),
                    " bytes, not 3 a pixel"));
  Item it;
  it.kind = Kind::image;
  it.x = x, it.y = y, it.w = w, it.h = h, it.image = images_.size();
  images_.push_back(std::move(img));
  add(std::move(it));
}

int Canvas::font_px(FontRole role) {
  switch (role) {
    case FontRole::small:
      return 11;
    case FontRole::normal:
      return 13;
    case FontRole::title:
      return 16;
  }
  return 13;
}

std::size_t Canvas::count(const std::string& tag) const {
  return static_cast<std::size_t>(
      std::count_if(items_.begin(), items_.end(), [&](const Item& it) { return it.tag == tag; }));
}

std::vector<std::string> Canvas::texts() const {
  std::vector<std::string> out;
  for (const Item& it : items_)
    if (it.kind == Kind::text) out.push_back(it.text);
  return out;
}

std::string base64(const std::string& bytes) {
  static const char* const kTable = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t v = static_cast<std::uint8_t>(bytes[i]) << 16 |
                            static_cast<std::uint8_t>(bytes[i + 1]) << 8 |
                            static_cast<std::uint8_t>(bytes[i + 2]);
    out += kTable[v >> 18];
    out += kTable[(v >> 12) & 63];
    out += kTable[(v >> 6) & 63];
    out += kTable[v & 63];
  }
  if (i < bytes.size()) {
    std::uint32_t v = static_cast<std::uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<std::uint8_t>(bytes[i + 1]) << 8;
    out += kTable[v >> 18];
    out += kTable[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kTable[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace diffuser::viz
