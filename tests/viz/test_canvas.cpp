// The drawing library through Cairo: one drawing rendered as PNG (pixels read back with Cairo's
// decoder), SVG and PDF (sizes and structure), antialiased edges, sharp image cells, real text.
#include <catch2/catch.hpp>

#include <diffuser/engine/error.hpp>
#include <diffuser/viz/canvas.hpp>

#include "viz/picture_check.hpp"

using namespace diffuser;
using Catch::Matchers::Contains;
using test::viz::read_pdf;
using test::viz::read_png;
using test::viz::svg_size;

namespace {

viz::Canvas sample() {
  viz::Canvas c(200, 120, viz::kWhite);
  c.rect(10, 10, 40, 30, viz::Rgb{200, 30, 40});
  viz::Image img(4, 2, viz::kWhite);
  img.set(0, 0, viz::Rgb{0, 0, 255});
  img.set(3, 1, viz::Rgb{0, 128, 0});
  c.image(60, 10, 80, 40, img);  // 20 x 20 pixels a cell
  c.line(10, 70, 190, 70, viz::kBlack, 1.0);
  c.circle(170, 100, 8, viz::Rgb{255, 128, 0});
  c.text(10, 100, "Query i attends", viz::FontRole::title, viz::kInk);
  return c;
}

}  // namespace

TEST_CASE("a canvas renders to PNG with the colours and cells it was given", "[cpu][viz]") {
  const viz::Canvas c = sample();
  const std::string png = c.render(viz::Format::png, "sample");
  REQUIRE(png.rfind("\x89PNG\r\n\x1a\n", 0) == 0);
  const auto px = read_png(png);
  CHECK(px.width == 200);
  CHECK(px.height == 120);
  CHECK(px.at(30, 25) == std::array<int, 3>{200, 30, 40});  // inside the rectangle
  CHECK(px.at(5, 5) == std::array<int, 3>{255, 255, 255});  // background
  // Image cells are sharp squares: every pixel of cell (0, 0) is blue, of (3, 1) green, up to the edge.
  for (const int x : {60, 70, 79})
    for (const int y : {10, 20, 29}) CHECK(px.at(x, y) == std::array<int, 3>{0, 0, 255});
  CHECK(px.at(80, 10) == std::array<int, 3>{255, 255, 255});
  CHECK(px.at(139, 49) == std::array<int, 3>{0, 128, 0});
  CHECK(px.at(120, 29) == std::array<int, 3>{255, 255, 255});
  // A 1-pixel line on a whole pixel row, not smeared over two.
  CHECK(px.at(100, 70) == std::array<int, 3>{0, 0, 0});
  CHECK(px.at(100, 69) == std::array<int, 3>{255, 255, 255});
  CHECK(px.at(100, 71) == std::array<int, 3>{255, 255, 255});
  // The disc is antialiased: its rim has intermediate shades.
  int partial = 0;
  for (int x = 158; x <= 182; ++x)
    for (int y = 88; y <= 112; ++y) {
      const auto p = px.at(x, y);
      partial += p[2] > 10 && p[2] < 245;
    }
  CHECK(partial >= 8);
  // Text was drawn: dark, antialiased pixels in the text's box.
  int dark = 0, grey = 0;
  for (int x = 10; x < 150; ++x)
    for (int y = 86; y < 104; ++y) {
      const int s = px.at(x, y)[0];
      dark += s < 80;
      grey += s >= 80 && s < 220;
    }
  CHECK(dark > 100);
  CHECK(grey > 20);
}

TEST_CASE("the same drawing as SVG and PDF keeps its size and title", "[cpu][viz]") {
  const viz::Canvas c = sample();
  const std::string svg = c.render(viz::Format::svg, "a <sample> & more");
  CHECK(svg_size(svg) == std::make_pair(200, 120));
  CHECK_THAT(svg, Contains("<title>a &lt;sample&gt; &amp; more</title>") && Contains("</svg>"));
  CHECK_THAT(svg, Contains("viewBox=\"0 0 200 120\""));
  CHECK_THAT(svg, Contains("<image"));  // the cells, embedded
  CHECK_THAT(svg, Contains("glyph"));   // text as outlines of the real font
  const std::string pdf = c.render(viz::Format::pdf, "sample");
  const auto info = read_pdf(pdf);
  CHECK(info.width == 200);
  CHECK(info.height == 120);
  CHECK(info.pages == 1);
  CHECK_THAT(pdf, Contains("/Interpolate false"));  // image cells stay sharp in PDF viewers
}

TEST_CASE("text widths come from the font and grow with the text", "[cpu][viz]") {
  const double w1 = viz::Canvas::text_width("key j", viz::FontRole::normal);
  const double w2 = viz::Canvas::text_width("key j (attended to)", viz::FontRole::normal);
  const double bold = viz::Canvas::text_width("key j", viz::FontRole::title);
  CHECK(w1 > 20);
  CHECK(w1 < 60);
  CHECK(w2 > 2.5 * w1);
  CHECK(bold > w1);
  CHECK(viz::Canvas::text_width("", viz::FontRole::small) == 0);
}

TEST_CASE("formats follow the file extension", "[cpu][viz]") {
  CHECK(viz::format_from_path("a.png") == viz::Format::png);
  CHECK(viz::format_from_path("dir/a.SVG") == viz::Format::svg);
  CHECK(viz::format_from_path("a.pdf") == viz::Format::pdf);
  CHECK_THROWS_AS(viz::format_from_path("a.jpg"), UsageError);
  CHECK_THROWS_AS(viz::Canvas(0, 10), Error);
}
