// A retained-mode drawing for the analysis pictures: rectangles, lines, circles, text and pixel
// images are recorded once, then replayed through Cairo onto a PNG, SVG or PDF surface. One
// drawing, three formats, the same layout; text is set in DejaVu Sans found through fontconfig.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace diffuser::viz {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};
inline constexpr Rgb kBlack{0, 0, 0};
inline constexpr Rgb kWhite{255, 255, 255};
inline constexpr Rgb kInk{33, 37, 41};       // text
inline constexpr Rgb kMuted{108, 117, 125};  // secondary text, axes
inline constexpr Rgb kGrid{222, 226, 230};

std::string hex(Rgb c);  // "#1f77b4"
Rgb mix(Rgb a, Rgb b, double t);

// Cells of a picture, drawn scaled into a rectangle without smoothing (each cell stays sharp).
struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;  // width * height * 3
  Image() = default;
  Image(int w, int h, Rgb fill);
  void set(int x, int y, Rgb c) {
    std::uint8_t* p =
        rgb.data() +
        (static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) * 3;
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }
  Rgb at(int x, int y) const {
    const std::uint8_t* p =
        rgb.data() +
        (static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) * 3;
    return {p[0], p[1], p[2]};
  }
};

enum class Anchor { start, middle, end };
// Text roles: small (ticks, legends, 11 px), normal (labels, 13 px), title (bold, 16 px).
enum class FontRole { small, normal, title };

// The file formats a drawing can be written as.
enum class Format { png, svg, pdf };
const char* format_name(Format f);  // "png", "svg", "pdf"
// From a file name's extension (.png, .svg, .pdf, any case); throws UsageError naming the path.
Format format_from_path(const std::filesystem::path& path);

class Canvas {
 public:
  Canvas(int width, int height, Rgb background = kWhite);
  int width() const { return width_; }
  int height() const { return height_; }

  // `tag` names the element for tests and counts (e.g. "cell" for the cells of a pattern).
  void rect(double x, double y, double w, double h, Rgb fill, const std::string& tag = "");
  // A 1-unit-wide border is drawn just outside the rectangle, so it never covers its content.
  void frame(double x, double y, double w, double h, Rgb stroke, double width = 1.0);
  void line(double x1, double y1, double x2, double y2, Rgb stroke, double width = 1.0, bool dashed = false);
  void polyline(const std::vector<std::pair<double, double>>& points, Rgb stroke, double width = 2.0);
  void circle(double cx, double cy, double r, Rgb fill);
  // y is the baseline; vertical text reads bottom to top with (x, y) its anchor on the baseline.
  void text(double x, double y, const std::string& s, FontRole role, Rgb color = kInk,
            Anchor anchor = Anchor::start, bool vertical = false);
  void image(double x, double y, double w, double h, Image img);

  // Advance width of s in pixels, measured with the font the renderer uses.
  static double text_width(const std::string& s, FontRole role);
  static int font_px(FontRole role);

  // The bytes of a PNG, SVG or PDF file of the drawing; `title` becomes the SVG <title> and the
  // PDF's title. Throws Error when Cairo fails.
  std::string render(Format format, const std::string& title) const;
  // Elements tagged `tag`.
  std::size_t count(const std::string& tag) const;
  // The strings drawn, in drawing order (for tests: SVG and PDF hold text as glyph outlines).
  std::vector<std::string> texts() const;

 private:
  friend class CairoReplay;
  enum class Kind { rect, frame, line, polyline, circle, text, image };
  struct Item {
    Kind kind = Kind::rect;
    double x = 0, y = 0, w = 0, h = 0;
    Rgb color;
    double width = 1;
    bool dashed = false, vertical = false;
    std::string text, tag;
    FontRole role = FontRole::normal;
    Anchor anchor = Anchor::start;
    std::vector<std::pair<double, double>> points;
    std::size_t image = 0;  // index into images_
  };
  void add(Item it) { items_.push_back(std::move(it)); }
  int width_, height_;
  Rgb background_;
  std::vector<Item> items_;
  std::vector<Image> images_;
};

std::string base64(const std::string& bytes);
// Escapes &, <, >, " for XML text and attributes.
std::string xml_escape(const std::string& s);

}  // namespace diffuser::viz
