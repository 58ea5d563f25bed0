#include <diffuser/viz/charts.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace diffuser::viz {

namespace {

constexpr Rgb kViridis[] = {{68, 1, 84},    {72, 40, 120},  {62, 73, 137},  {49, 104, 142}, {38, 130, 142},
                            {31, 158, 137}, {53, 183, 121}, {110, 206, 88}, {181, 222, 43}, {253, 231, 37}};

}  // namespace

Rgb viridis(double t) {
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * 9.0;
  const int i = std::min(8, static_cast<int>(t));
  return mix(kViridis[i], kViridis[i + 1], t - i);
}

Rgb series_color(std::size_t i) {
  static constexpr Rgb kTab[] = {{31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                                 {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127},
                                 {188, 189, 34},  {23, 190, 207}};
  return kTab[i % 10];
}

Rgb hop_color(int d, int k) {
  if (k <= 1) return viridis(0.35);
  return viridis(0.08 + 0.84 * (d - 1) / static_cast<double>(k - 1));
}

std::vector<double> nice_ticks(double lo, double hi, int count) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / std::max(1, count);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (const double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    t.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  return t;
}

std::string tick_label(double v) {
  char buf[32];
  const double a = std::fabs(v);
  if (a >= 1e6 && std::fmod(a, 1e6) == 0)
    std::snprintf(buf, sizeof buf, "%gM", v / 1e6);
  else if (a >= 1e4 && std::fmod(a, 1e3) == 0)
    std::snprintf(buf, sizeof buf, "%gk", v / 1e3);
  else if (a != 0 && a < 1e-3)
    std::snprintf(buf, sizeof buf, "%.0e", v);
  else
    std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void draw_title(Canvas& c, const std::string& title, const std::string& subtitle, double x) {
  c.text(x, 26, title, FontRole::title, kInk);
  if (!subtitle.empty()) c.text(x, 45, subtitle, FontRole::normal, kMuted);
}

void draw_matrix_axes(Canvas& c, const Box& p, std::int64_t n_cols, std::int64_t n_rows,
                      const std::string& xlabel, const std::string& ylabel) {
  c.frame(p.x, p.y, p.w, p.h, kMuted, 1.0);
  auto ticks_for = [](std::int64_t n) {
    std::vector<double> t = nice_ticks(0, static_cast<double>(n), 5);
    t.erase(std::remove_if(t.begin(), t.end(), [&](double v) { return v > static_cast<double>(n); }),
            t.end());
    return t;
  };
  for (const double v : ticks_for(n_cols)) {
    const double x = p.x + p.w * v / static_cast<double>(n_cols);
    c.line(x, p.y + p.h, x, p.y + p.h + 5, kMuted);
    c.text(x, p.y + p.h + 19, tick_label(v), FontRole::small, kMuted, Anchor::middle);
  }
  for (const double v : ticks_for(n_rows)) {
    const double y = p.y + p.h * v / static_cast<double>(n_rows);
    c.line(p.x - 5, y, p.x, y, kMuted);
    c.text(p.x - 8, y + 4, tick_label(v), FontRole::small, kMuted, Anchor::end);
  }
  c.text(p.x + p.w / 2, p.y + p.h + 40, xlabel, FontRole::normal, kInk, Anchor::middle);
  if (!ylabel.empty()) c.text(p.x - 50, p.y + p.h / 2, ylabel, FontRole::normal, kInk, Anchor::middle, true);
}

void draw_colorbar(Canvas& c, const Box& bar, double lo, double hi, bool log, const std::string& label,
                   Rgb (*map)(double)) {
  Image img(1, 256, kWhite);
  for (int y = 0; y < 256; ++y) img.set(0, y, map(1.0 - y / 255.0));
  c.image(bar.x, bar.y, bar.w, bar.h, img);
  c.frame(bar.x, bar.y, bar.w, bar.h, kMuted);
  const double a = log ? std::log10(lo) : lo, b = log ? std::log10(hi) : hi;
  std::vector<double> ticks = nice_ticks(a, b, 5);
  if (log) {
    ticks.clear();
    for (double e = std::ceil(a - 1e-9); e <= b + 1e-9; e += std::max(1.0, std::ceil((b - a) / 6)))
      ticks.push_back(e);
  }
  for (const double t : ticks) {
    if (t < a - 1e-9 || t > b + 1e-9) continue;
    const double y = bar.y + bar.h * (1.0 - (t - a) / (b - a));
    c.line(bar.x + bar.w, y, bar.x + bar.w + 4, y, kMuted);
    std::string s = log ? (t == 0 ? "1" : "1e" + tick_label(t)) : tick_label(t);
    c.text(bar.x + bar.w + 7, y + 4, s, FontRole::small, kMuted);
  }
  c.text(bar.x + bar.w + 52, bar.y + bar.h / 2, label, FontRole::normal, kInk, Anchor::middle, true);
}

double draw_legend(Canvas& c, double x, double y, const std::vector<std::pair<Rgb, std::string>>& rows) {
  for (const auto& [color, label] : rows) {
    c.rect(x, y, 14, 14, color);
    c.frame(x, y, 14, 14, kMuted, 0.5);
    c.text(x + 21, y + 11.5, label, FontRole::small, kInk);
    y += 20;
  }
  return y;
}

void draw_line_chart(Canvas& c, const Box& area, const LineChart& ch) {
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& s : ch.series)
    for (const auto& [x, y] : s.points) {
      x0 = std::min(x0, x), x1 = std::max(x1, x);
      if (!ch.log_y || y > 0) y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  if (x0 > x1) x0 = 0, x1 = 1;
  if (y0 > y1) y0 = 0, y1 = 1;
  x0 = ch.xmin.value_or(x0), x1 = ch.xmax.value_or(x1);
  y0 = ch.ymin.value_or(y0), y1 = ch.ymax.value_or(y1);
  if (x1 <= x0) x1 = x0 + 1;
  if (ch.log_y) {
    y0 = std::log10(std::max(y0, 1e-300));
    y1 = std::log10(std::max(y1, 1e-300));
    y0 = std::floor(y0), y1 = std::ceil(y1);
  }
  if (y1 <= y0) y1 = y0 + 1;
  double top = area.y;
  if (!ch.title.empty()) {
    c.text(area.x, top + 16, ch.title, FontRole::title);
    top += 24;
  }
  if (!ch.subtitle.empty()) {
    c.text(area.x, top + 12, ch.subtitle, FontRole::small, kMuted);
    top += 18;
  }
  // Legend on the right, as wide as the longest name.
  double legend_w = 0;
  for (const auto& s : ch.series) legend_w = std::max(legend_w, Canvas::text_width(s.name, FontRole::small));
  legend_w = ch.series.size() > 1 || !ch.series.empty() ? legend_w + 40 : 0;
  const Box p{area.x + 62, top + 10, area.w - 62 - legend_w - 10, area.h - (top - area.y) - 10 - 48};
  auto px = [&](double x) { return p.x + p.w * (x - x0) / (x1 - x0); };
  auto py = [&](double y) {
    const double v = ch.log_y ? std::log10(std::max(y, 1e-300)) : y;
    return p.y + p.h * (1.0 - (v - y0) / (y1 - y0));
  };
  // Grid and ticks.
  std::vector<double> yt = ch.log_y ? std::vector<double>{} : nice_ticks(y0, y1, 5);
  if (ch.log_y)
    for (double e = y0; e <= y1 + 1e-9; e += std::max(1.0, std::ceil((y1 - y0) / 6))) yt.push_back(e);
  for (const double t : yt) {
    const double y = p.y + p.h * (1.0 - (t - y0) / (y1 - y0));
    c.line(p.x, y, p.x + p.w, y, kGrid);
    const std::string s = ch.log_y ? (t == 0 ? std::string("1") : "1e" + tick_label(t))
                                   : (ch.percent_y ? tick_label(t * 100) + "%" : tick_label(t));
    c.text(p.x - 7, y + 4, s, FontRole::small, kMuted, Anchor::end);
  }
  std::vector<double> xt = nice_ticks(x0, x1, 8);
  if (ch.integer_x)
    xt.erase(std::remove_if(xt.begin(), xt.end(), [](double v) { return v != std::floor(v); }), xt.end());
  for (const double t : xt) {
    const double x = px(t);
    c.line(x, p.y + p.h, x, p.y + p.h + 4, kMuted);
    c.text(x, p.y + p.h + 17, tick_label(t), FontRole::small, kMuted, Anchor::middle);
  }
  c.line(p.x, p.y + p.h, p.x + p.w, p.y + p.h, kMuted);
  c.line(p.x, p.y, p.x, p.y + p.h, kMuted);
  c.text(p.x + p.w / 2, p.y + p.h + 36, ch.xlabel, FontRole::normal, kInk, Anchor::middle);
  c.text(area.x + 14, p.y + p.h / 2, ch.ylabel, FontRole::normal, kInk, Anchor::middle, true);
  for (const auto& [v, label] : ch.hlines) {
    const double y = py(v);
    c.line(p.x, y, p.x + p.w, y, kMuted, 1.0, true);
    c.text(p.x + 6, y + 14, label, FontRole::small, kMuted);
  }
  for (const auto& s : ch.series) {
    std::vector<std::pair<double, double>> pts;
    for (const auto& [x, y] : s.points)
      if (!ch.log_y || y > 0) pts.emplace_back(px(x), py(y));
    if (!s.line) {
    } else if (s.dashed) {
      for (std::size_t i = 1; i < pts.size(); ++i)
        c.line(pts[i - 1].first, pts[i - 1].second, pts[i].first, pts[i].second, s.color, s.width, true);
    } else {
      c.polyline(pts, s.color, s.width);
    }
    if (s.markers)
      for (const auto& [x, y] : pts) c.circle(x, y, s.marker, s.color);
  }
  double ly = p.y + 4;
  for (const auto& s : ch.series) {
    const double lx = p.x + p.w + 16;
    if (s.line) c.line(lx, ly + 6, lx + 18, ly + 6, s.color, 2.5, s.dashed);
    if (s.markers) c.circle(lx + 9, ly + 6, std::max(3.2, s.marker), s.color);
    c.text(lx + 24, ly + 10, s.name, FontRole::small, kInk);
    ly += 19;
  }
}

void draw_bar_chart(Canvas& c, const Box& area, const BarChart& ch) {
  double top = area.y;
  if (!ch.title.empty()) {
    c.text(area.x, top + 16, ch.title, FontRole::title);
    top += 24;
  }
  if (!ch.subtitle.empty()) {
    c.text(area.x, top + 12, ch.subtitle, FontRole::small, kMuted);
    top += 18;
  }
  double vmax = 0;
  for (const double v : ch.values) vmax = std::max(vmax, v);
  vmax = ch.vmax.value_or(vmax > 0 ? vmax : 1.0);
  auto label_of = [&](double v) {
    char buf[32];
    if (ch.percent)
      std::snprintf(buf, sizeof buf, "%.1f%%", 100 * v);
    else
      std::snprintf(buf, sizeof buf, "%.4g", v);
    return std::string(buf);
  };
  const std::size_t n = ch.values.size();
  auto color = [&](std::size_t i) { return i < ch.colors.size() ? ch.colors[i] : series_color(i); };
  if (ch.horizontal) {
    double label_w = 0;
    for (const auto& l : ch.labels) label_w = std::max(label_w, Canvas::text_width(l, FontRole::small));
    const Box p{area.x + label_w + 12, top + 8, area.w - label_w - 12 - 60, area.h - (top - area.y) - 8 - 40};
    const double slot = p.h / static_cast<double>(std::max<std::size_t>(1, n));
    for (const double t : nice_ticks(0, vmax, 4)) {
      const double x = p.x + p.w * t / vmax;
      c.line(x, p.y, x, p.y + p.h, kGrid);
      c.text(x, p.y + p.h + 16, ch.percent ? tick_label(t * 100) + "%" : tick_label(t), FontRole::small,
             kMuted, Anchor::middle);
    }
    for (std::size_t i = 0; i < n; ++i) {
      const double y = p.y + slot * static_cast<double>(i) + slot * 0.18, h = slot * 0.64;
      const double w = p.w * std::clamp(ch.values[i] / vmax, 0.0, 1.0);
      c.rect(p.x, y, w, h, color(i));
      c.text(p.x - 8, y + h / 2 + 4, i < ch.labels.size() ? ch.labels[i] : "", FontRole::small, kInk,
             Anchor::end);
      const bool custom = i < ch.value_labels.size() && !ch.value_labels[i].empty();
      c.text(p.x + w + 6, y + h / 2 + 4, custom ? ch.value_labels[i] : label_of(ch.values[i]),
             FontRole::small, custom ? kMuted : kInk);
    }
    c.line(p.x, p.y, p.x, p.y + p.h, kMuted);
    c.text(p.x + p.w / 2, p.y + p.h + 34, ch.xlabel, FontRole::normal, kInk, Anchor::middle);
    return;
  }
  const Box p{area.x + 62, top + 10, area.w - 72, area.h - (top - area.y) - 10 - 52};
  for (const double t : nice_ticks(0, vmax, 5)) {
    const double y = p.y + p.h * (1.0 - t / vmax);
    c.line(p.x, y, p.x + p.w, y, kGrid);
    c.text(p.x - 7, y + 4, ch.percent ? tick_label(t * 100) + "%" : tick_label(t), FontRole::small, kMuted,
           Anchor::end);
  }
  const double slot = p.w / static_cast<double>(std::max<std::size_t>(1, n));
  const std::size_t every = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::ceil(static_cast<double>(n) * 46.0 / std::max(1.0, p.w))));
  for (std::size_t i = 0; i < n; ++i) {
    const double h = p.h * std::clamp(ch.values[i] / vmax, 0.0, 1.0);
    c.rect(p.x + slot * static_cast<double>(i) + slot * 0.1, p.y + p.h - h, slot * 0.8, h, color(i));
    if (i % every == 0 && i < ch.labels.size())
      c.text(p.x + slot * (static_cast<double>(i) + 0.5), p.y + p.h + 16, ch.labels[i], FontRole::small,
             kMuted, Anchor::middle);
  }
  c.line(p.x, p.y + p.h, p.x + p.w, p.y + p.h, kMuted);
  c.line(p.x, p.y, p.x, p.y + p.h, kMuted);
  c.text(p.x + p.w / 2, p.y + p.h + 38, ch.xlabel, FontRole::normal, kInk, Anchor::middle);
  c.text(area.x + 14, p.y + p.h / 2, ch.ylabel, FontRole::normal, kInk, Anchor::middle, true);
}

}  // namespace diffuser::viz
