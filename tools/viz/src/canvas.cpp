#include <diffuser/viz/canvas.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "font.hpp"
#include "png.hpp"

namespace diffuser::viz {

namespace {

const char* const kFontFamily = "DejaVu Sans, Verdana, Arial, sans-serif";

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

class Raster {
 public:
  Raster(int w, int h, Rgb bg)
      : w_(w), h_(h), px_(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3) {
    for (std::size_t i = 0; i < px_.size(); i += 3) {
      px_[i] = bg.r;
      px_[i + 1] = bg.g;
      px_[i + 2] = bg.b;
    }
  }
  void blend(int x, int y, Rgb c, double a) {
    if (x < 0 || y < 0 || x >= w_ || y >= h_ || a <= 0) return;
    a = std::min(a, 1.0);
    std::uint8_t* p =
        px_.data() +
        (static_cast<std::size_t>(y) * static_cast<std::size_t>(w_) + static_cast<std::size_t>(x)) * 3;
    p[0] = static_cast<std::uint8_t>(std::lround(p[0] + (c.r - p[0]) * a));
    p[1] = static_cast<std::uint8_t>(std::lround(p[1] + (c.g - p[1]) * a));
    p[2] = static_cast<std::uint8_t>(std::lround(p[2] + (c.b - p[2]) * a));
  }
  void fill(double x, double y, double w, double h, Rgb c) {
    const int x0 = static_cast<int>(std::lround(x)), x1 = static_cast<int>(std::lround(x + w));
    const int y0 = static_cast<int>(std::lround(y)), y1 = static_cast<int>(std::lround(y + h));
    for (int yy = std::max(0, y0); yy < std::min(h_, y1); ++yy)
      for (int xx = std::max(0, x0); xx < std::min(w_, x1); ++xx) blend(xx, yy, c, 1.0);
  }
  // Antialiased segment of the given width: coverage from the distance to the segment.
  void segment(double x1, double y1, double x2, double y2, Rgb c, double width) {
    const double r = width / 2;
    const int xa = static_cast<int>(std::floor(std::min(x1, x2) - r - 1)),
              xb = static_cast<int>(std::ceil(std::max(x1, x2) + r + 1));
    const int ya = static_cast<int>(std::floor(std::min(y1, y2) - r - 1)),
              yb = static_cast<int>(std::ceil(std::max(y1, y2) + r + 1));
    const double dx = x2 - x1, dy = y2 - y1, len2 = dx * dx + dy * dy;
    for (int y = std::max(0, ya); y <= std::min(h_ - 1, yb); ++y)
      for (int x = std::max(0, xa); x <= std::min(w_ - 1, xb); ++x) {
        const double px = x + 0.5, py = y + 0.5;
        double t = len2 > 0 ? ((px - x1) * dx + (py - y1) * dy) / len2 : 0.0;
        t = std::clamp(t, 0.0, 1.0);
        const double d = std::hypot(px - (x1 + t * dx), py - (y1 + t * dy));
        blend(x, y, c, std::clamp(r + 0.5 - d, 0.0, 1.0));
      }
  }
  void disc(double cx, double cy, double rad, Rgb c) {
    for (int y = std::max(0, static_cast<int>(cy - rad - 1));
         y <= std::min(h_ - 1, static_cast<int>(cy + rad + 1)); ++y)
      for (int x = std::max(0, static_cast<int>(cx - rad - 1));
           x <= std::min(w_ - 1, static_cast<int>(cx + rad + 1)); ++x)
        blend(x, y, c, std::clamp(rad + 0.5 - std::hypot(x + 0.5 - cx, y + 0.5 - cy), 0.0, 1.0));
  }
  void text(double x, double y, const std::string& s, FontRole role, Rgb c, Anchor anchor, bool vertical) {
    const BitmapFace& f = bitmap_face(role);
    auto glyph = [&](char ch) -> const Glyph& {
      const int i = static_cast<unsigned char>(ch) - 32;
      return f.glyphs[(i < 0 || i >= 95) ? '?' - 32 : i];
    };
    int width = 0;
    for (const char ch : s) width += glyph(ch).advance;
    double start = anchor == Anchor::start ? 0 : (anchor == Anchor::middle ? width / 2.0 : width);
    const int ox = static_cast<int>(std::lround(x)), oy = static_cast<int>(std::lround(y));
    int pen = -static_cast<int>(std::lround(start));
    for (const char ch : s) {
      const Glyph& g = glyph(ch);
      for (int row = 0; row < g.rows; ++row)
        for (int col = 0; col < g.width; ++col) {
          const std::size_t idx = static_cast<std::size_t>(row) * g.width + static_cast<std::size_t>(col);
          const unsigned char byte = f.bits[g.offset + idx / 2];
          const int a = (idx % 2 == 0) ? byte >> 4 : byte & 0xF;
          if (!a) continue;
          const int u = pen + g.left + col;  // along the text
          const int v = row - g.top;         // below the baseline
          if (vertical)
            blend(ox + v, oy - u, c, a / 15.0);
          else
            blend(ox + u, oy + v, c, a / 15.0);
        }
      pen += g.advance;
    }
  }
  void image(double x, double y, double w, double h, const Image& img) {
    const int x0 = static_cast<int>(std::lround(x)), x1 = static_cast<int>(std::lround(x + w));
    const int y0 = static_cast<int>(std::lround(y)), y1 = static_cast<int>(std::lround(y + h));
    if (x1 <= x0 || y1 <= y0 || img.width == 0 || img.height == 0) return;
    for (int yy = std::max(0, y0); yy < std::min(h_, y1); ++yy) {
      const int sy = std::min(img.height - 1, static_cast<int>((yy - y0 + 0.5) * img.height / (y1 - y0)));
      for (int xx = std::max(0, x0); xx < std::min(w_, x1); ++xx) {
        const int sx = std::min(img.width - 1, static_cast<int>((xx - x0 + 0.5) * img.width / (x1 - x0)));
        const std::uint8_t* p =
            img.rgb.data() + (static_cast<std::size_t>(sy) * static_cast<std::size_t>(img.width) +
                              static_cast<std::size_t>(sx)) *
                                 3;
        blend(xx, yy, Rgb{p[0], p[1], p[2]}, 1.0);
      }
    }
  }
  std::vector<std::uint8_t> take() { return std::move(px_); }

 private:
  int w_, h_;
  std::vector<std::uint8_t> px_;
};

}  // namespace

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

Image::Image(int w, int h, Rgb fill)
    : width(w), height(h), rgb(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3) {
  for (std::size_t i = 0; i < rgb.size(); i += 3) {
    rgb[i] = fill.r;
    rgb[i + 1] = fill.g;
    rgb[i + 2] = fill.b;
  }
}

Canvas::Canvas(int width, int height, Rgb background)
    : width_(width), height_(height), background_(background) {}

void Canvas::rect(double x, double y, double w, double h, Rgb fill, const std::string& cls) {
  Item it;
  it.kind = Kind::rect;
  it.x = x, it.y = y, it.w = w, it.h = h, it.color = fill, it.cls = cls;
  items_.push_back(std::move(it));
}
void Canvas::frame(double x, double y, double w, double h, Rgb stroke, double width) {
  Item it;
  it.kind = Kind::frame;
  it.x = x, it.y = y, it.w = w, it.h = h, it.color = stroke, it.width = width;
  items_.push_back(std::move(it));
}
void Canvas::line(double x1, double y1, double x2, double y2, Rgb stroke, double width, bool dashed) {
  Item it;
  it.kind = Kind::line;
  it.x = x1, it.y = y1, it.w = x2, it.h = y2, it.color = stroke, it.width = width, it.dashed = dashed;
  items_.push_back(std::move(it));
}
void Canvas::polyline(const std::vector<std::pair<double, double>>& points, Rgb stroke, double width) {
  Item it;
  it.kind = Kind::polyline;
  it.points = points, it.color = stroke, it.width = width;
  items_.push_back(std::move(it));
}
void Canvas::circle(double cx, double cy, double r, Rgb fill) {
  Item it;
  it.kind = Kind::circle;
  it.x = cx, it.y = cy, it.w = r, it.color = fill;
  items_.push_back(std::move(it));
}
void Canvas::text(double x, double y, const std::string& s, FontRole role, Rgb color, Anchor anchor,
                  bool vertical) {
  Item it;
  it.kind = Kind::text;
  it.x = x, it.y = y, it.text = s, it.role = role, it.color = color, it.anchor = anchor,
  it.vertical = vertical;
  items_.push_back(std::move(it));
}
void Canvas::image(double x, double y, double w, double h, Image img) {
  Item it;
  it.kind = Kind::image;
  it.x = x, it.y = y, it.w = w, it.h = h, it.image = images_.size();
  images_.push_back(std::move(img));
  items_.push_back(std::move(it));
}

int Canvas::font_px(FontRole role) {
  return bitmap_face(role).px;
}

double Canvas::text_width(const std::string& s, FontRole role) {
  const bool bold = role == FontRole::title;
  double em = 0;
  for (const char c : s) em += advance_em(c, bold);
  return em * font_px(role);
}

std::size_t Canvas::count(const std::string& cls) const {
  return static_cast<std::size_t>(
      std::count_if(items_.begin(), items_.end(), [&](const Item& it) { return it.cls == cls; }));
}

std::string Canvas::svg(const std::string& title) const {
  std::string s;
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width_) + "\" height=\"" +
       std::to_string(height_) + "\" viewBox=\"0 0 " + std::to_string(width_) + " " +
       std::to_string(height_) + "\" font-family=\"" + kFontFamily + "\">\n";
  s += "<title>" + xml_escape(title) + "</title>\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"" + hex(background_) + "\"/>\n";
  for (const Item& it : items_) {
    switch (it.kind) {
      case Kind::rect:
        s += "<rect" + (it.cls.empty() ? std::string() : " class=\"" + it.cls + "\"") + " x=\"" + num(it.x) +
             "\" y=\"" + num(it.y) + "\" width=\"" + num(it.w) + "\" height=\"" + num(it.h) + "\" fill=\"" +
             hex(it.color) + "\"/>\n";
        break;
      case Kind::frame:
        s += "<rect x=\"" + num(it.x) + "\" y=\"" + num(it.y) + "\" width=\"" + num(it.w) + "\" height=\"" +
             num(it.h) + "\" fill=\"none\" stroke=\"" + hex(it.color) + "\" stroke-width=\"" + num(it.width) +
             "\"/>\n";
        break;
      case Kind::line:
        s += "<line x1=\"" + num(it.x) + "\" y1=\"" + num(it.y) + "\" x2=\"" + num(it.w) + "\" y2=\"" +
             num(it.h) + "\" stroke=\"" + hex(it.color) + "\" stroke-width=\"" + num(it.width) + "\"" +
             (it.dashed ? " stroke-dasharray=\"4 3\"" : "") + "/>\n";
        break;
      case Kind::polyline: {
        s += "<polyline fill=\"none\" stroke=\"" + hex(it.color) + "\" stroke-width=\"" + num(it.width) +
             "\" stroke-linejoin=\"round\" points=\"";
        for (const auto& [px, py] : it.points) s += num(px) + "," + num(py) + " ";
        s += "\"/>\n";
        break;
      }
      case Kind::circle:
        s += "<circle cx=\"" + num(it.x) + "\" cy=\"" + num(it.y) + "\" r=\"" + num(it.w) + "\" fill=\"" +
             hex(it.color) + "\"/>\n";
        break;
      case Kind::text: {
        const char* anchor =
            it.anchor == Anchor::start ? "start" : (it.anchor == Anchor::middle ? "middle" : "end");
        s += "<text x=\"" + num(it.x) + "\" y=\"" + num(it.y) + "\" font-size=\"" +
             std::to_string(font_px(it.role)) + "\" fill=\"" + hex(it.color) + "\" text-anchor=\"" + anchor +
             "\"" + (it.role == FontRole::title ? " font-weight=\"bold\"" : "") +
             (it.vertical ? " transform=\"rotate(-90 " + num(it.x) + " " + num(it.y) + ")\"" : "") + ">" +
             xml_escape(it.text) + "</text>\n";
        break;
      }
      case Kind::image: {
        const Image& img = images_[it.image];
        s +=
            "<image x=\"" + num(it.x) + "\" y=\"" + num(it.y) + "\" width=\"" + num(it.w) + "\" height=\"" +
            num(it.h) +
            "\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated;image-rendering:crisp-edges\" "
            "href=\"data:image/png;base64," +
            base64(encode_png(img.width, img.height, img.rgb)) + "\"/>\n";
        break;
      }
    }
  }
  s += "</svg>\n";
  return s;
}

std::vector<std::uint8_t> Canvas::raster() const {
  Raster r(width_, height_, background_);
  for (const Item& it : items_) {
    switch (it.kind) {
      case Kind::rect:
        r.fill(it.x, it.y, it.w, it.h, it.color);
        break;
      case Kind::frame: {
        const double x0 = it.x, y0 = it.y, x1 = it.x + it.w, y1 = it.y + it.h;
        r.segment(x0, y0, x1, y0, it.color, it.width);
        r.segment(x1, y0, x1, y1, it.color, it.width);
        r.segment(x1, y1, x0, y1, it.color, it.width);
        r.segment(x0, y1, x0, y0, it.color, it.width);
        break;
      }
      case Kind::line:
        if (!it.dashed) {
          r.segment(it.x, it.y, it.w, it.h, it.color, it.width);
        } else {
          const double len = std::hypot(it.w - it.x, it.h - it.y);
          for (double t = 0; t < len; t += 7) {
            const double t1 = std::min(len, t + 4);
            r.segment(it.x + (it.w - it.x) * t / len, it.y + (it.h - it.y) * t / len,
                      it.x + (it.w - it.x) * t1 / len, it.y + (it.h - it.y) * t1 / len, it.color, it.width);
          }
        }
        break;
      case Kind::polyline:
        for (std::size_t i = 1; i < it.points.size(); ++i)
          r.segment(it.points[i - 1].first, it.points[i - 1].second, it.points[i].first, it.points[i].second,
                    it.color, it.width);
        break;
      case Kind::circle:
        r.disc(it.x, it.y, it.w, it.color);
        break;
      case Kind::text:
        r.text(it.x, it.y, it.text, it.role, it.color, it.anchor, it.vertical);
        break;
      case Kind::image:
        r.image(it.x, it.y, it.w, it.h, images_[it.image]);
        break;
    }
  }
  return r.take();
}

std::string Canvas::png() const {
  return encode_png(width_, height_, raster());
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
