// Chart building blocks on a Canvas: colour maps, nice ticks, heat-map axes, colour bars and
// legends, line charts and bar charts, in one visual style for every analysis picture.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <diffuser/viz/canvas.hpp>

namespace diffuser::viz {

// Perceptually uniform colour map (viridis control points), t in [0, 1].
Rgb viridis(double t);
// Ten distinguishable series colours (Tableau 10).
Rgb series_color(std::size_t i);
// Colour of hop d in 1..K for the reach pictures (viridis from dark to light).
Rgb hop_color(int d, int k);
inline constexpr Rgb kEdgeColor{31, 78, 121};
inline constexpr Rgb kEmptyCell{247, 247, 249};

struct Box {
  double x = 0, y = 0, w = 0, h = 0;
};

// About `count` round tick values covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int count = 6);
std::string tick_label(double v);

// Title (bold) and an optional subtitle line at the top left of the canvas.
void draw_title(Canvas& c, const std::string& title, const std::string& subtitle, double x = 16);
// Axes around a matrix picture of n_cols x n_rows tokens drawn in `plot` (row 0 at the top).
void draw_matrix_axes(Canvas& c, const Box& plot, std::int64_t n_cols, std::int64_t n_rows,
                      const std::string& xlabel, const std::string& ylabel);
// Vertical colour bar for values lo..hi (log10 axis when log is set), label rotated beside it.
void draw_colorbar(Canvas& c, const Box& bar, double lo, double hi, bool log, const std::string& label,
                   Rgb (*map)(double));
// Legend rows "swatch  label" from the top left corner (x, y); returns the bottom.
double draw_legend(Canvas& c, double x, double y, const std::vector<std::pair<Rgb, std::string>>& rows);

struct Series {
  std::string name;
  Rgb color;
  std::vector<std::pair<double, double>> points;
  bool markers = true;
  bool dashed = false;
  bool line = true;     // false: a scatter of markers
  double marker = 3.2;  // radius
  double width = 2.0;   // line width
};

struct LineChart {
  std::string title, subtitle, xlabel, ylabel;
  std::optional<double> xmin, xmax, ymin, ymax;
  bool log_y = false;
  bool percent_y = false;  // y values are fractions, labelled as percentages
  bool integer_x = true;
  std::vector<Series> series;
  std::vector<std::pair<double, std::string>> hlines;  // dashed reference lines with labels
};
void draw_line_chart(Canvas& c, const Box& area, const LineChart& chart);

struct BarChart {
  std::string title, subtitle, xlabel, ylabel;
  std::vector<std::string> labels;
  std::vector<double> values;
  std::vector<Rgb> colors;                // per bar (default: series colours)
  std::vector<std::string> value_labels;  // per bar: replaces the printed value when not empty
  bool horizontal = false;                // bars grow to the right, labels at the left
  bool percent = false;
  std::optional<double> vmax;
};
void draw_bar_chart(Canvas& c, const Box& area, const BarChart& chart);

}  // namespace diffuser::viz
