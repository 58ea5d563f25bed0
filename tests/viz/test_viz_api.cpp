// The viz library's one-call API, as a Python binding would use it: every kind to bytes in every
// format, the same bytes to a file, and options that do not fit a kind refused.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <diffuser/diffusion/mass.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/graphs/pattern.hpp>
#include <diffuser/viz/figures.hpp>
#include <diffuser/viz/viz.hpp>

#include "tools/cli_runner.hpp"
#include "viz/picture_check.hpp"

using namespace diffuser;
using test::viz::read_pdf;
using test::viz::read_png;
using test::viz::svg_size;

TEST_CASE("every picture kind renders to PNG, SVG and PDF bytes of one size", "[cpu][viz]") {
  const Csr g = graphs::build_pattern("window:2+random:1", 48, 1);
  for (const viz::Kind kind :
       {viz::Kind::pattern, viz::Kind::reach, viz::Kind::field, viz::Kind::attention}) {
    INFO(viz::kind_name(kind));
    viz::Request r;
    r.kind = kind;
    r.source = "test graph";
    const viz::Picture png = viz::render(g, r, viz::Format::png);
    const auto px = read_png(png.bytes);
    CHECK(px.width == png.width);
    CHECK(px.height == png.height);
    const viz::Picture svg = viz::render(g, r, viz::Format::svg);
    CHECK(svg_size(svg.bytes) == std::make_pair(png.width, png.height));
    const viz::Picture pdf = viz::render(g, r, viz::Format::pdf);
    const auto info = read_pdf(pdf.bytes);
    CHECK(info.width == png.width);
    CHECK(info.height == png.height);
  }
}

TEST_CASE("a tiny pattern's cells land on their grid", "[cpu][viz]") {
  // window:1 over 8 tokens on a 640-pixel plot: 80 pixels a token, the plot's corner at (96, 70).
  const Csr g = graphs::build_pattern("window:1", 8, 0);
  const auto px = read_png(viz::render(g, viz::Request{}, viz::Format::png).bytes);
  int edges = 0;
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) {
      const auto c = px.at(96 + j * 80 + 40, 70 + i * 80 + 40);
      const bool edge = c == std::array<int, 3>{31, 78, 121};
      CHECK(edge == (std::abs(i - j) <= 1));
      if (!edge) CHECK(c == std::array<int, 3>{247, 247, 249});
      edges += edge;
      // Sharp cells: the colour holds up to the cell's last pixel.
      CHECK(px.at(96 + j * 80 + 79, 70 + i * 80 + 79) == c);
    }
  CHECK(edges == 22);
}

TEST_CASE("the attention picture names its diffusion and marks the token's neighbours", "[cpu][viz]") {
  const Csr g = graphs::build_pattern("window:1", 16, 0);
  viz::AttentionRows rows;
  rows.rows.push_back(diffusion::diffused_row(g, diffusion::Coefficients::ppr(2, 0.5), {}, 0, 8));
  rows.attention = "uniform attention";
  rows.coefficients = diffusion::Coefficients::ppr(2, 0.5).describe();
  const viz::Canvas c = viz::attention_figure(g, 8, rows, "pattern 'window:1'");
  bool named = false;
  for (const auto& t : c.texts()) named = named || t.find("K=2, alpha=0.5") != std::string::npos;
  CHECK(named);
  const auto px = read_png(c.render(viz::Format::png, "a"));
  CHECK(px.width == c.width());
}

TEST_CASE("render_to_file writes what render returns, in the extension's format", "[cpu][viz]") {
  test::cli::TempDir dir;
  const Csr g = graphs::build_pattern("window:3", 30, 0);
  viz::Request r;
  r.kind = viz::Kind::field;
  r.token = 7;
  r.hops = 3;
  for (const char* name : {"f.png", "f.svg", "f.pdf"}) {
    const viz::Picture p = viz::render_to_file(g, r, dir / name);
    CHECK(test::cli::read_file(dir / name) == p.bytes);
  }
  CHECK(dir.listing() == std::set<std::string>{"f.png", "f.svg", "f.pdf"});
  CHECK_THROWS_AS(viz::render_to_file(g, r, dir / "f.gif"), UsageError);
}

TEST_CASE("options that do not fit the kind are refused", "[cpu][viz]") {
  const Csr g = graphs::build_pattern("window:1", 16, 0);
  viz::Request r;
  r.hops = 3;  // pattern takes no hops
  CHECK_THROWS_AS(viz::render(g, r, viz::Format::png), UsageError);
  r = {};
  r.kind = viz::Kind::reach;
  r.token = 3;
  CHECK_THROWS_AS(viz::render(g, r, viz::Format::png), UsageError);
  r = {};
  r.kind = viz::Kind::field;
  r.token = 16;
  CHECK_THROWS_AS(viz::render(g, r, viz::Format::png), Error);
  r = {};
  r.plot = 100;
  CHECK_THROWS_AS(viz::render(g, r, viz::Format::png), UsageError);
  CHECK_THROWS_AS(viz::parse_kind("heatmap"), UsageError);
}

TEST_CASE("node-link drawings come back as bytes when GraphViz is installed", "[cpu][viz]") {
  const Csr g = graphs::build_pattern("window:1+global:1", 12, 0);
  viz::Request r;
  r.kind = viz::Kind::graph;
  const bool graphviz = std::system("command -v neato > /dev/null 2>&1") == 0;
  if (!graphviz) {
    CHECK_THROWS_AS(viz::render(g, r, viz::Format::svg), viz::GraphvizMissing);
    return;
  }
  CHECK(viz::render(g, r, viz::Format::svg).bytes.find("<svg") != std::string::npos);
  CHECK(read_png(viz::render(g, r, viz::Format::png).bytes).width > 100);
  CHECK(read_pdf(viz::render(g, r, viz::Format::pdf).bytes).pages == 1);
}
