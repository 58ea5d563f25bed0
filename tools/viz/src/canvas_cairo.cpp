// The Cairo back end of Canvas: one replay of the recorded items onto an image surface (PNG), an
// SVG surface or a PDF surface. Text goes through Cairo's font selection, which asks fontconfig
// for DejaVu Sans; metrics are unhinted so that every format lays out text the same way.
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string_view>

#include <diffuser/engine/error.hpp>
#include <diffuser/viz/canvas.hpp>

namespace diffuser::viz {

namespace {

constexpr const char* kFamily = "DejaVu Sans";

struct SurfaceDeleter {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};
using Surface = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;
using Context = std::unique_ptr<cairo_t, ContextDeleter>;

void check(cairo_status_t status, const char* what) {
  if (status != CAIRO_STATUS_SUCCESS) throw Error(cat("Cairo: ", what, ": ", cairo_status_to_string(status)));
}

Context make_context(cairo_surface_t* surface) {
  check(cairo_surface_status(surface), "cannot create the surface");
  Context cr(cairo_create(surface));
  check(cairo_status(cr.get()), "cannot create a drawing context");
  cairo_font_options_t* o = cairo_font_options_create();
  // Unhinted advances: a label is as wide in the PNG as in the SVG and the PDF.
  cairo_font_options_set_hint_metrics(o, CAIRO_HINT_METRICS_OFF);
  cairo_font_options_set_antialias(o, CAIRO_ANTIALIAS_GRAY);
  // No hinting in PNGs either: with hinting, Cairo's process-wide glyph cache made a PNG's bytes
  // depend on the pictures drawn before it in the same process (Python against the CLI).
  cairo_font_options_set_hint_style(o, CAIRO_HINT_STYLE_NONE);
  cairo_set_font_options(cr.get(), o);
  cairo_font_options_destroy(o);
  return cr;
}

void select_font(cairo_t* cr, FontRole role) {
  cairo_select_font_face(cr, kFamily, CAIRO_FONT_SLANT_NORMAL,
                         role == FontRole::title ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, Canvas::font_px(role));
}

// Cairo writes path coordinates with up to 6 decimals; 2 are a hundredth of a pixel. Only the d
// attributes are touched (transforms keep their precision: they scale images).
std::string compact_paths(const std::string& svg) {
  std::string out;
  out.reserve(svg.size());
  std::size_t pos = 0;
  while (true) {
    const std::size_t d = svg.find(" d=\"", pos);
    if (d == std::string::npos) break;
    const std::size_t begin = d + 4, end = svg.find('"', begin);
    if (end == std::string::npos) break;
    out.append(svg, pos, begin - pos);
    for (std::size_t i = begin; i < end;) {
      const char ch = svg[i];
      if ((ch >= '0' && ch <= '9') || ch == '-' || ch == '.') {
        std::size_t j = i;
        while (j < end && ((svg[j] >= '0' && svg[j] <= '9') || svg[j] == '-' || svg[j] == '.')) ++j;
        const std::string number = svg.substr(i, j - i);
        const auto dot = number.find('.');
        if (dot != std::string::npos && number.size() - dot > 3) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.2f", std::strtod(number.c_str(), nullptr));
          std::string r = buf;
          while (r.back() == '0') r.pop_back();
          if (r.back() == '.') r.pop_back();
          if (r == "-0") r = "0";
          out += r;
        } else {
          out += number;
        }
        i = j;
      } else {
        out += ch;
        ++i;
      }
    }
    pos = end;
  }
  out.append(svg, pos, std::string::npos);
  return out;
}

// Cairo numbers images, patterns and surfaces in an SVG with process-wide counters, so the same
// drawing made twice in one process (Python) differs from a fresh one (the CLI). Renumbered in
// order of first appearance, the bytes depend on the drawing alone.
std::string renumber_svg_ids(const std::string& svg) {
  static constexpr std::string_view kinds[] = {"surface", "image", "pattern", "source", "clip", "mask"};
  std::map<std::string, std::string> renamed;
  std::map<std::string_view, int> next;
  std::string out;
  out.reserve(svg.size());
  std::size_t i = 0;
  while (i < svg.size()) {
    const char c = svg[i];
    out += c;
    ++i;
    if (c != '"' && c != '#') continue;
    for (const std::string_view kind : kinds) {
      if (svg.compare(i, kind.size(), kind) != 0) continue;
      std::size_t j = i + kind.size();
      while (j < svg.size() && svg[j] >= '0' && svg[j] <= '9') ++j;
      if (j == i + kind.size()) break;
      const std::string old = svg.substr(i, j - i);
      auto it = renamed.find(old);
      if (it == renamed.end()) it = renamed.emplace(old, std::string(kind) + std::to_string(++next[kind])).first;
      out += it->second;
      i = j;
      break;
    }
  }
  return out;
}

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

// An RGB24 Cairo surface holding the image's pixels, each repeated sx x sy times (nearest
// neighbour): SVG viewers smooth scaled images, so the SVG gets the cells at their drawn size.
Surface image_surface(const Image& img, int sx, int sy) {
  Surface s(cairo_image_surface_create(CAIRO_FORMAT_RGB24, img.width * sx, img.height * sy));
  check(cairo_surface_status(s.get()), "cannot create an image");
  cairo_surface_flush(s.get());
  unsigned char* data = cairo_image_surface_get_data(s.get());
  const int stride = cairo_image_surface_get_stride(s.get());
  for (int y = 0; y < img.height * sy; ++y) {
    auto* row = reinterpret_cast<std::uint32_t*>(data + static_cast<std::ptrdiff_t>(y) * stride);
    for (int x = 0; x < img.width * sx; ++x) {
      const Rgb c = img.at(x / sx, y / sy);
      row[x] = std::uint32_t{c.r} << 16 | std::uint32_t{c.g} << 8 | c.b;
    }
  }
  cairo_surface_mark_dirty(s.get());
  return s;
}

}  // namespace

// Replays a Canvas onto a Cairo context. `raster`: the target is a pixel grid (PNG), so
// axis-aligned hairlines and text baselines are put on whole pixels to stay crisp.
class CairoReplay {
 public:
  CairoReplay(const Canvas& c, cairo_t* cr, bool raster, bool upscale_images)
      : c_(c), cr_(cr), raster_(raster), upscale_(upscale_images) {}

  void run() {
    source(c_.background_);
    cairo_paint(cr_);
    for (const Canvas::Item& it : c_.items_) {
      switch (it.kind) {
        case Canvas::Kind::rect:
          source(it.color);
          cairo_rectangle(cr_, it.x, it.y, it.w, it.h);
          cairo_fill(cr_);
          break;
        case Canvas::Kind::frame: {
          const double half = it.width / 2;  // the stroke lies outside the box
          source(it.color);
          cairo_set_line_width(cr_, it.width);
          cairo_rectangle(cr_, it.x - half, it.y - half, it.w + it.width, it.h + it.width);
          cairo_stroke(cr_);
          break;
        }
        case Canvas::Kind::line:
          line(it);
          break;
        case Canvas::Kind::polyline:
          if (it.points.size() < 2) break;
          source(it.color);
          cairo_set_line_width(cr_, it.width);
          cairo_set_line_join(cr_, CAIRO_LINE_JOIN_ROUND);
          cairo_set_line_cap(cr_, CAIRO_LINE_CAP_ROUND);
          cairo_move_to(cr_, it.points[0].first, it.points[0].second);
          for (std::size_t i = 1; i < it.points.size(); ++i)
            cairo_line_to(cr_, it.points[i].first, it.points[i].second);
          cairo_stroke(cr_);
          cairo_set_line_cap(cr_, CAIRO_LINE_CAP_BUTT);
          break;
        case Canvas::Kind::circle:
          source(it.color);
          cairo_new_path(cr_);
          cairo_arc(cr_, it.x, it.y, it.w, 0, 2 * M_PI);
          cairo_fill(cr_);
          break;
        case Canvas::Kind::text:
          text(it);
          break;
        case Canvas::Kind::image:
          image(it, c_.images_[it.image]);
          break;
      }
    }
    check(cairo_status(cr_), "drawing failed");
  }

 private:
  void source(Rgb c) { cairo_set_source_rgb(cr_, c.r / 255.0, c.g / 255.0, c.b / 255.0); }

  // A hairline of odd integer width along a pixel row or column is centred on the pixel.
  static double centre(double v, double width) {
    const double w = std::round(width);
    if (std::fabs(width - w) > 1e-9 || static_cast<long>(w) % 2 == 0) return v;
    return std::floor(v) + 0.5;
  }

  void line(const Canvas::Item& it) {
    double x1 = it.x, y1 = it.y, x2 = it.w, y2 = it.h;
    if (y1 == y2) y1 = y2 = centre(y1, it.width);
    if (x1 == x2) x1 = x2 = centre(x1, it.width);
    source(it.color);
    cairo_set_line_width(cr_, it.width);
    if (it.dashed) {
      const double dash[] = {4.0, 3.0};
      cairo_set_dash(cr_, dash, 2, 0);
    }
    cairo_move_to(cr_, x1, y1);
    cairo_line_to(cr_, x2, y2);
    cairo_stroke(cr_);
    cairo_set_dash(cr_, nullptr, 0, 0);
  }

  void text(const Canvas::Item& it) {
    if (it.text.empty()) return;
    select_font(cr_, it.role);
    cairo_text_extents_t e;
    cairo_text_extents(cr_, it.text.c_str(), &e);
    const double shift =
        it.anchor == Anchor::start ? 0.0 : (it.anchor == Anchor::middle ? e.x_advance / 2 : e.x_advance);
    // The pen's start in device space: left of the anchor, or below it for vertical text.
    double x = it.vertical ? it.x : it.x - shift, y = it.vertical ? it.y + shift : it.y;
    if (raster_) x = std::round(x), y = std::round(y);
    cairo_save(cr_);
    source(it.color);
    cairo_translate(cr_, x, y);
    if (it.vertical) cairo_rotate(cr_, -M_PI / 2);
    cairo_move_to(cr_, 0, 0);
    cairo_show_text(cr_, it.text.c_str());
    cairo_restore(cr_);
  }

  void image(const Canvas::Item& it, const Image& img) {
    if (it.w <= 0 || it.h <= 0) return;
    // Whole-pixel repeats for vector output, so the embedded image is no smaller than drawn.
    int rx = 1, ry = 1;
    if (upscale_) {
      rx = std::max(1, static_cast<int>(std::ceil(it.w / img.width - 1e-9)));
      ry = std::max(1, static_cast<int>(std::ceil(it.h / img.height - 1e-9)));
      while (static_cast<double>(img.width) * rx * img.height * ry > 16e6 && (rx > 1 || ry > 1))
        rx = std::max(1, rx / 2), ry = std::max(1, ry / 2);
    }
    const Surface s = image_surface(img, rx, ry);
    const double w = img.width * rx, h = img.height * ry;
    cairo_save(cr_);
    cairo_translate(cr_, it.x, it.y);
    cairo_scale(cr_, it.w / w, it.h / h);
    cairo_set_source_surface(cr_, s.get(), 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr_), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr_, 0, 0, w, h);
    cairo_fill(cr_);
    cairo_restore(cr_);
  }

  const Canvas& c_;
  cairo_t* cr_;
  bool raster_, upscale_;
};

double Canvas::text_width(const std::string& s, FontRole role) {
  const Surface surface(cairo_image_surface_create(CAIRO_FORMAT_A8, 1, 1));
  const Context cr = make_context(surface.get());
  select_font(cr.get(), role);
  cairo_text_extents_t e;
  cairo_text_extents(cr.get(), s.c_str(), &e);
  check(cairo_status(cr.get()), "cannot measure text");
  return e.x_advance;
}

std::string Canvas::render(Format format, const std::string& title) const {
  std::string out;
  switch (format) {
    case Format::png: {
      const Surface s(cairo_image_surface_create(CAIRO_FORMAT_RGB24, width_, height_));
      {
        const Context cr = make_context(s.get());
        CairoReplay(*this, cr.get(), true, false).run();
      }
      cairo_surface_flush(s.get());
      check(cairo_surface_write_to_png_stream(s.get(), append_bytes, &out), "cannot encode the PNG");
      break;
    }
    case Format::svg: {
      const Surface s(cairo_svg_surface_create_for_stream(append_bytes, &out, width_, height_));
      cairo_svg_surface_set_document_unit(s.get(), CAIRO_SVG_UNIT_PX);
      {
        const Context cr = make_context(s.get());
        CairoReplay(*this, cr.get(), false, true).run();
      }
      cairo_surface_finish(s.get());
      check(cairo_surface_status(s.get()), "cannot write the SVG");
      out = renumber_svg_ids(compact_paths(out));
      // Cairo writes no <title>; it names the picture for viewers and screen readers.
      const auto open = out.find("<svg");
      const auto end = open == std::string::npos ? open : out.find('>', open);
      if (end != std::string::npos) out.insert(end + 1, "\n<title>" + xml_escape(title) + "</title>");
      break;
    }
    case Format::pdf: {
      const Surface s(cairo_pdf_surface_create_for_stream(append_bytes, &out, width_, height_));
      cairo_pdf_surface_set_metadata(s.get(), CAIRO_PDF_METADATA_TITLE, title.c_str());
      cairo_pdf_surface_set_metadata(s.get(), CAIRO_PDF_METADATA_CREATOR, "diffuser");
      {
        const Context cr = make_context(s.get());
        CairoReplay(*this, cr.get(), false, false).run();
      }
      cairo_surface_finish(s.get());
      check(cairo_surface_status(s.get()), "cannot write the PDF");
      break;
    }
  }
  return out;
}

}  // namespace diffuser::viz
