#include <diffuser/viz/figures.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <diffuser/diffusion/reach.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/viz/charts.hpp>

#include "format.hpp"

namespace diffuser::viz {

namespace {

constexpr double kLeft = 96, kTop = 70, kBottom = 64;

// Side of the plot: one or more whole pixels per token when exact, else opt.plot.
int plot_side(std::int64_t n, bool exact, int plot) {
  if (!exact) return plot;
  const std::int64_t cell = std::max<std::int64_t>(1, plot / n);
  return static_cast<int>(std::max<std::int64_t>(n * cell, std::min<std::int64_t>(plot, n)));
}

std::string default_subtitle(const Csr& g) {
  return cat(group_digits(g.num_nodes()), " tokens, ", group_digits(g.num_edges()), " edges (",
             group_digits(static_cast<std::int64_t>(
                 std::llround(static_cast<double>(g.num_edges()) / static_cast<double>(g.num_nodes())))),
             " per token)");
}

// "12.3" for 0.1234.
std::string pct1(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", 100.0 * fraction);
  return buf;
}

Rgb density_color(double t) {  // white for 0, then light to dark blue-purple
  return t <= 0 ? kEmptyCell : viridis(1.0 - t);
}

}  // namespace

Canvas pattern_figure(const Csr& g, const std::string& source, const FigureOptions& opt) {
  const std::int64_t n = g.num_nodes();
  const bool exact = n <= opt.max_exact;
  const int side = plot_side(n, exact, opt.plot);
  const double right = exact ? 180 : 150;
  Canvas c(static_cast<int>(kLeft + side + right), static_cast<int>(kTop + side + kBottom));
  draw_title(c, opt.title.empty() ? cat("Attention pattern: ", source) : opt.title,
             opt.subtitle.empty() ? default_subtitle(g) + (exact ? "" : cat(", binned ", side, " x ", side))
                                  : opt.subtitle);
  const Box p{kLeft, kTop, static_cast<double>(side), static_cast<double>(side)};
  if (exact) {
    // One pixel per token pair, drawn without smoothing: every cell stays a sharp square.
    Image img(static_cast<int>(n), static_cast<int>(n), kEmptyCell);
    for (std::int64_t i = 0; i < n; ++i)
      for (const std::int32_t j : g.neighbors(i)) img.set(j, static_cast<int>(i), kEdgeColor);
    c.image(p.x, p.y, p.w, p.h, std::move(img));
    draw_legend(c, p.x + p.w + 24, p.y + 4, {{kEdgeColor, "edge j -> i"}, {kEmptyCell, "no edge"}});
    c.text(p.x + p.w + 24, p.y + 60, "row i attends to", FontRole::small, kMuted);
    c.text(p.x + p.w + 24, p.y + 75, "column j", FontRole::small, kMuted);
  } else {
    // Density of each bin: edges in it over the pairs it covers; log colour scale.
    const int bins = side;
    std::vector<double> count(static_cast<std::size_t>(bins) * static_cast<std::size_t>(bins), 0.0);
    auto bin = [&](std::int64_t x) { return static_cast<std::size_t>(x * bins / n); };
    for (std::int64_t i = 0; i < n; ++i) {
      const std::size_t row = bin(i) * static_cast<std::size_t>(bins);
      for (const std::int32_t j : g.neighbors(i)) count[row + bin(j)] += 1.0;
    }
    std::vector<double> width(static_cast<std::size_t>(bins), 0.0);
    for (std::int64_t i = 0; i < n; ++i) width[bin(i)] += 1.0;
    double lo = 1.0, hi = 0.0;
    for (std::size_t a = 0; a < static_cast<std::size_t>(bins); ++a)
      for (std::size_t b = 0; b < static_cast<std::size_t>(bins); ++b) {
        double& v = count[a * static_cast<std::size_t>(bins) + b];
        v /= width[a] * width[b];
        if (v > 0) lo = std::min(lo, v), hi = std::max(hi, v);
      }
    if (hi <= 0) hi = 1, lo = 0.1;
    lo = std::pow(10.0, std::floor(std::log10(lo)));
    hi = std::pow(10.0, std::ceil(std::log10(hi)));
    if (hi <= lo) hi = lo * 10;
    Image img(bins, bins, kEmptyCell);
    for (int a = 0; a < bins; ++a)
      for (int b = 0; b < bins; ++b) {
        const double v =
            count[static_cast<std::size_t>(a) * static_cast<std::size_t>(bins) + static_cast<std::size_t>(b)];
        if (v > 0)
          img.set(b, a, density_color((std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo))));
      }
    c.image(p.x, p.y, p.w, p.h, std::move(img));
    draw_colorbar(c, Box{p.x + p.w + 24, p.y, 16, p.h * 0.6}, lo, hi, true, "edge density in bin",
                  [](double t) { return viridis(1.0 - t); });
  }
  draw_matrix_axes(c, p, n, n, "key j (attended to)", "query i (attends)");
  return c;
}

Canvas reach_figure(const Csr& g, int hops, const std::string& source, const FigureOptions& opt) {
  const std::int64_t n = g.num_nodes();
  if (n > diffusion::kExactReachLimit)
    throw Error(cat("viz --kind reach needs N <= ", group_digits(diffusion::kExactReachLimit),
                    ", the graph has ", group_digits(n),
                    " tokens (use a smaller --n or `diffuser reach --sample`)"));
  if (hops < 1 || hops > 64)
    throw UsageError(cat("--hops must be in [1, 64] for viz --kind reach, got ", hops));
  const bool exact = n <= kExactPatternLimit;
  const int side = plot_side(n, exact, opt.plot);
  Canvas c(static_cast<int>(kLeft + side + 230), static_cast<int>(kTop + side + kBottom));
  const Box p{kLeft, kTop, static_cast<double>(side), static_cast<double>(side)};
  std::string sub;
  if (exact) {
    const std::vector<std::uint8_t> d = diffusion::distance_matrix(g, hops);
    Image img(static_cast<int>(n), static_cast<int>(n), kEmptyCell);
    std::int64_t within = 0;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        const std::uint8_t h = d[static_cast<std::size_t>(i * n + j)];
        if (h == diffusion::kUnreached) continue;
        if (i != j) ++within;
        img.set(static_cast<int>(j), static_cast<int>(i), h == 0 ? kInk : hop_color(h, hops));
      }
    c.image(p.x, p.y, p.w, p.h, std::move(img));
    std::vector<std::pair<Rgb, std::string>> legend{{kInk, "0 (itself)"}};
    const int step = hops <= 12 ? 1 : (hops + 11) / 12;
    for (int h = 1; h <= hops; h += step)
      legend.emplace_back(hop_color(h, hops), cat(h, h == 1 ? " hop" : " hops"));
    legend.emplace_back(kEmptyCell, cat("> ", hops, " or never"));
    c.text(p.x + p.w + 24, p.y + 4, "hops for i to receive from j", FontRole::small, kMuted);
    draw_legend(c, p.x + p.w + 24, p.y + 14, legend);
    sub = cat(default_subtitle(g), "; within ", hops, " hops: ",
              pct1(static_cast<double>(within) / (static_cast<double>(n) * static_cast<double>(n - 1))),
              "% of pairs");
  } else {
    const std::vector<double> f = diffusion::binned_coverage(g, hops, side);
    Image img(side, side, kEmptyCell);
    for (int a = 0; a < side; ++a)
      for (int b = 0; b < side; ++b) {
        const double v =
            f[static_cast<std::size_t>(a) * static_cast<std::size_t>(side) + static_cast<std::size_t>(b)];
        if (v > 0) img.set(b, a, viridis(v));
      }
    c.image(p.x, p.y, p.w, p.h, std::move(img));
    draw_colorbar(c, Box{p.x + p.w + 24, p.y, 16, p.h * 0.6}, 0.0, 1.0, false,
                  cat("fraction within ", hops, " hops"), viridis);
    sub = cat(default_subtitle(g), ", binned ", side, " x ", side);
  }
  draw_title(c, opt.title.empty() ? cat(hops, "-hop reachability: ", source) : opt.title,
             opt.subtitle.empty() ? sub : opt.subtitle);
  draw_matrix_axes(c, p, n, n, "key j (source of information)", "query i (receives)");
  return c;
}

Canvas field_figure(const Csr& g, std::int64_t token, int hops, const std::string& source,
                    const FigureOptions& opt) {
  const std::int64_t n = g.num_nodes();
  if (token < 0 || token >= n) throw Error(cat("--token ", token, " is out of range [0, ", n, ")"));
  if (hops < 1 || hops > 64)
    throw UsageError(cat("--hops must be in [1, 64] for viz --kind field, got ", hops));
  const std::vector<std::int32_t> d = diffusion::receive_hops(g, token, hops);
  const bool exact = n <= opt.plot * 2;
  const int cols = exact ? static_cast<int>(n) : opt.plot;
  const int width = plot_side(n, exact, opt.plot);
  constexpr double kRow = 26, kGap = 6;
  const Box p{kLeft, kTop + 10, static_cast<double>(width), (hops + 1) * (kRow + kGap) - kGap};
  Canvas c(static_cast<int>(kLeft + width + 170), static_cast<int>(p.y + p.h + kBottom + 10));
  draw_title(c, opt.title.empty() ? cat("Receptive field of token ", token, ": ", source) : opt.title,
             opt.subtitle.empty()
                 ? default_subtitle(g) + "; cell j of row k: token i receives from j within k hops"
                 : opt.subtitle);
  std::vector<std::int64_t> width_of(static_cast<std::size_t>(cols), 0);
  auto col_of = [&](std::int64_t j) { return static_cast<std::size_t>(j * cols / n); };
  for (std::int64_t j = 0; j < n; ++j) ++width_of[col_of(j)];
  for (int k = 0; k <= hops; ++k) {
    const double y = p.y + k * (kRow + kGap);
    Image img(cols, 1, kEmptyCell);
    std::vector<double> first(static_cast<std::size_t>(cols), 1e9), frac(static_cast<std::size_t>(cols), 0.0);
    std::int64_t size = 0;
    for (std::int64_t j = 0; j < n; ++j) {
      const std::int32_t h = d[static_cast<std::size_t>(j)];
      if (h < 0 || h > k) continue;
      ++size;
      const std::size_t col = col_of(j);
      first[col] = std::min<double>(first[col], h);
      frac[col] += 1.0 / static_cast<double>(width_of[col]);
    }
    for (int x = 0; x < cols; ++x) {
      const auto ux = static_cast<std::size_t>(x);
      if (frac[ux] <= 0) continue;
      const Rgb base = first[ux] == 0 ? kInk : hop_color(static_cast<int>(first[ux]), hops);
      img.set(x, 0, exact ? base : mix(kEmptyCell, base, 0.25 + 0.75 * frac[ux]));
    }
    c.image(p.x, y, p.w, kRow, std::move(img));
    c.frame(p.x, y, p.w, kRow, kGrid, 1.0);
    c.text(p.x - 8, y + kRow / 2 + 4, cat("k = ", k), FontRole::normal, kInk, Anchor::end);
    c.text(p.x + p.w + 10, y + kRow / 2 + 4,
           cat(group_digits(size), " (", pct1(static_cast<double>(size) / static_cast<double>(n)), "%)"),
           FontRole::small, kInk);
  }
  // Token marker and axis.
  const double tx = p.x + p.w * (static_cast<double>(token) + 0.5) / static_cast<double>(n);
  c.line(tx, p.y - 8, tx, p.y - 2, kInk, 1.5);
  c.text(tx, p.y - 11, cat("i = ", token), FontRole::small, kInk, Anchor::middle);
  for (const double v : nice_ticks(0, static_cast<double>(n), 6)) {
    if (v > static_cast<double>(n)) continue;
    const double x = p.x + p.w * v / static_cast<double>(n);
    c.line(x, p.y + p.h + 2, x, p.y + p.h + 7, kMuted);
    c.text(x, p.y + p.h + 20, tick_label(v), FontRole::small, kMuted, Anchor::middle);
  }
  c.text(p.x + p.w / 2, p.y + p.h + 42, "key j", FontRole::normal, kInk, Anchor::middle);
  c.text(p.x + p.w + 10, p.y - 11, "|R_k(i)|", FontRole::small, kMuted);
  return c;
}

Canvas attention_figure(const Csr& g, std::int64_t token, const AttentionRows& a, const std::string& source,
                        const FigureOptions& opt) {
  const std::int64_t n = g.num_nodes();
  const int heads = static_cast<int>(a.rows.size());
  const bool exact = n <= opt.plot * 2;
  const int cols = exact ? static_cast<int>(n) : opt.plot;
  const int width = plot_side(n, exact, opt.plot);
  const double kRow = heads == 1 ? 40 : 22;
  const bool with_v = !a.value_norms.empty();
  const Box strip{kLeft, kTop + 14, static_cast<double>(width), heads * kRow};
  const double bar_h = std::max(strip.h, 110.0);
  const double chart_y = strip.y + bar_h + 24;
  const double chart_h = 240;
  const double total_h = chart_y + chart_h * (with_v ? 2 : 1) + 16;
  Canvas c(static_cast<int>(kLeft + width + 150), static_cast<int>(total_h));
  // Neighbourhood N1(i) and mass outside it.
  std::vector<char> direct(static_cast<std::size_t>(n), 0);
  direct[static_cast<std::size_t>(token)] = 1;
  for (const std::int32_t j : g.neighbors(token)) direct[static_cast<std::size_t>(j)] = 1;
  std::vector<double> mean(static_cast<std::size_t>(n), 0.0);
  double hi = 0, outside = 0, total = 0;
  for (const auto& row : a.rows)
    for (std::int64_t j = 0; j < n; ++j) {
      const double v = row[static_cast<std::size_t>(j)] / heads;
      mean[static_cast<std::size_t>(j)] += v;
      hi = std::max(hi, row[static_cast<std::size_t>(j)]);
      total += v;
      if (!direct[static_cast<std::size_t>(j)]) outside += v;
    }
  if (hi <= 0) hi = 1;
  const double lo_exp = std::floor(std::log10(hi)) - 6, hi_exp = std::ceil(std::log10(hi));
  draw_title(c, opt.title.empty() ? cat("Diffused attention of token ", token, ": ", source) : opt.title,
             opt.subtitle.empty()
                 ? cat(a.attention, ", ", a.coefficients, "; ", pct1(outside / std::max(total, 1e-300)),
                       "% of the weight from tokens outside N1(i)")
                 : opt.subtitle);
  // Strip: one row per head, log colour.
  for (int h = 0; h < heads; ++h) {
    Image img(cols, 1, kEmptyCell);
    std::vector<double> best(static_cast<std::size_t>(cols), 0.0);
    for (std::int64_t j = 0; j < n; ++j) {
      const auto x = static_cast<std::size_t>(j * cols / n);
      best[x] = std::max(best[x], a.rows[static_cast<std::size_t>(h)][static_cast<std::size_t>(j)]);
    }
    for (int x = 0; x < cols; ++x)
      if (best[static_cast<std::size_t>(x)] > 0)
        img.set(x, 0, viridis((std::log10(best[static_cast<std::size_t>(x)]) - lo_exp) / (hi_exp - lo_exp)));
    c.image(strip.x, strip.y + h * kRow, strip.w, kRow - 2, std::move(img));
    c.text(strip.x - 8, strip.y + h * kRow + kRow / 2 + 3, heads == 1 ? "T[i, j]" : cat("head ", h),
           FontRole::small, kInk, Anchor::end);
  }
  // Marks under the strip for N1(i).
  for (std::int64_t j = 0; j < n; ++j)
    if (direct[static_cast<std::size_t>(j)]) {
      const double x = strip.x + strip.w * (static_cast<double>(j) + 0.5) / static_cast<double>(n);
      c.line(x, strip.y + strip.h + 1, x, strip.y + strip.h + 7, series_color(3), 1.0);
    }
  c.text(strip.x - 8, strip.y + strip.h + 9, "N1(i)", FontRole::small, series_color(3), Anchor::end);
  draw_colorbar(c, Box{strip.x + strip.w + 14, strip.y, 14, bar_h}, std::pow(10.0, lo_exp),
                std::pow(10.0, hi_exp), true, "T[i, j]", viridis);
  // Chart: head-averaged weight per key (log y), neighbours in red.
  LineChart ch;
  ch.title = heads == 1 ? "T[i, j] per key j" : "T[i, j] per key j, mean over heads";
  ch.xlabel = "key j";
  ch.ylabel = "weight (log)";
  ch.log_y = true;
  ch.xmin = 0;
  ch.xmax = static_cast<double>(n - 1);
  Series s_out{"not connected", series_color(0), {}, true, false, false, n > 512 ? 1.2 : 2.2};
  Series s_in{"N1(i): connected", series_color(3), {}, true, false, false, n > 512 ? 1.6 : 2.8};
  for (std::int64_t j = 0; j < n; ++j) {
    const double v = mean[static_cast<std::size_t>(j)];
    if (v <= 0) continue;
    (direct[static_cast<std::size_t>(j)] ? s_in : s_out).points.emplace_back(static_cast<double>(j), v);
  }
  ch.series = {s_out, s_in};
  const Box chart{kLeft - 62, chart_y, static_cast<double>(width) + 62 + 150, chart_h};
  draw_line_chart(c, chart, ch);
  if (with_v) {
    LineChart vc;
    vc.title = "Share of the output per key: T[i, j] ||v_j|| / sum (weight x norm)";
    vc.xlabel = "key j";
    vc.ylabel = "share (log)";
    vc.log_y = true;
    vc.xmin = 0;
    vc.xmax = static_cast<double>(n - 1);
    double sum = 0;
    for (std::int64_t j = 0; j < n; ++j)
      sum += mean[static_cast<std::size_t>(j)] * a.value_norms[static_cast<std::size_t>(j)];
    Series sv{"share", series_color(2), {}, true, false, false, n > 512 ? 1.2 : 2.2};
    for (std::int64_t j = 0; j < n; ++j) {
      const double v = mean[static_cast<std::size_t>(j)] * a.value_norms[static_cast<std::size_t>(j)] /
                       std::max(sum, 1e-300);
      if (v > 0) sv.points.emplace_back(static_cast<double>(j), v);
    }
    vc.series = {sv};
    draw_line_chart(c, Box{chart.x, chart.y + chart_h, chart.w, chart_h}, vc);
  }
  return c;
}

}  // namespace diffuser::viz
