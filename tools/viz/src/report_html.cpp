#include <diffuser/viz/report.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <regex>

#include <diffuser/engine/error.hpp>
#include <diffuser/viz/canvas.hpp>
#include <diffuser/viz/charts.hpp>
#include <diffuser/viz/figures.hpp>

#include "format.hpp"

namespace diffuser::viz {

namespace {

using viz::Box;
using viz::Canvas;
using viz::xml_escape;

const char* const kCss = R"(
body{font-family:"DejaVu Sans",Verdana,Arial,sans-serif;color:#212529;background:#f1f3f5;margin:0;padding:24px 32px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px}
.sub{color:#6c757d;font-size:13px;margin-bottom:16px}
.card{background:#fff;border:1px solid #dee2e6;border-radius:8px;padding:14px 16px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.cols{display:grid;gap:16px}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{padding:5px 8px;border-bottom:1px solid #e9ecef;text-align:right;white-space:nowrap}
.summary{overflow-x:auto}.summary th{white-space:normal;vertical-align:bottom}
.pcard{width:420px}.pcard table{font-size:12px}.pcard td{white-space:normal;padding:4px 6px}
th:first-child,td:first-child{text-align:left}
th{background:#f8f9fa;font-weight:600;position:sticky;top:0}
td.spec{font-family:"DejaVu Sans Mono",monospace;font-size:12px;color:#495057;text-align:left}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px;vertical-align:-1px}
svg{max-width:100%;height:auto;display:block}
.card h3{font-size:15px;margin:0 0 2px}.card .spec{font-family:"DejaVu Sans Mono",monospace;font-size:12px;color:#6c757d;margin-bottom:8px}
.note{font-size:12px;color:#6c757d;margin-top:8px;line-height:1.45}
code{font-family:"DejaVu Sans Mono",monospace;font-size:12px;background:#f1f3f5;padding:1px 4px;border-radius:3px}
)";

// A figure as inline SVG. Cairo names its glyphs and clips glyph0-1, clip1, ... in every SVG, so
// the ids of each figure get a prefix from a hash of its text: different figures cannot collide
// in one page, and identical ones share identical definitions.
std::string figure(const Canvas& c, const std::string& title) {
  std::string svg = c.render(Format::svg, title);
  if (const auto start = svg.find("<svg"); start != std::string::npos) svg.erase(0, start);  // <?xml ..?>
  std::uint64_t h = 1469598103934665603ull;                                                  // FNV-1a
  for (const unsigned char ch : svg) h = (h ^ ch) * 1099511628211ull;
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "f%08llx-", static_cast<unsigned long long>(h & 0xffffffffull));
  static const std::regex ids(R"((id="|href="#|url\(#))");
  return std::regex_replace(svg, ids, std::string("$1") + prefix);
}

std::string pct(double f, int decimals = 1) {
  return percent(f, decimals);
}

std::string num(double v, int digits = 4) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::string degree_histogram_svg(const PatternReport& p, viz::Rgb color) {
  const Csr& g = p.graph;
  const std::int64_t n = g.num_nodes();
  std::vector<std::int64_t> deg(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) deg[static_cast<std::size_t>(i)] = g.degree(i);
  std::vector<std::int64_t> sorted = deg;
  std::sort(sorted.begin(), sorted.end());
  const std::int64_t lo = sorted.front();
  // Global tokens attend to everything: a few huge degrees would squash the histogram, so degrees
  // past 1.25 x the 95th percentile share one overflow bar.
  const std::int64_t p95 = sorted[static_cast<std::size_t>(static_cast<double>(n - 1) * 0.95)];
  const std::int64_t cut =
      std::max(lo + 1, static_cast<std::int64_t>(std::ceil(1.25 * static_cast<double>(p95))));
  const std::int64_t hi = sorted.back();
  const bool overflow = hi > cut;
  const std::int64_t top = overflow ? cut : hi;
  const int bins = static_cast<int>(std::clamp<std::int64_t>(top - lo + 1, 1, 24));
  const double width = static_cast<double>(top - lo + 1) / bins;
  viz::BarChart ch;
  ch.xlabel = "in-degree (sources per token)";
  ch.ylabel = "tokens";
  std::vector<double> counts(static_cast<std::size_t>(bins + (overflow ? 1 : 0)), 0.0);
  for (const std::int64_t d : deg) {
    if (overflow && d > top) {
      counts.back() += 1;
      continue;
    }
    counts[static_cast<std::size_t>(std::min<std::int64_t>(
        bins - 1, static_cast<std::int64_t>(static_cast<double>(d - lo) / width)))] += 1;
  }
  for (int b = 0; b < bins; ++b)
    ch.labels.push_back(viz::tick_label(std::round(static_cast<double>(lo) + b * width)));
  if (overflow) ch.labels.push_back(cat(">", viz::tick_label(static_cast<double>(top))));
  ch.values = counts;
  ch.colors.assign(counts.size(), color);
  if (overflow) ch.colors.back() = viz::kMuted;
  Canvas c(420, 230);
  viz::draw_bar_chart(c, Box{0, 0, 420, 230}, ch);
  return figure(c, cat("in-degree histogram of ", p.label));
}

std::string pattern_svg(const PatternReport& p) {
  viz::FigureOptions fo;
  fo.plot = 300;
  fo.max_exact = 300;
  fo.title = " ";
  fo.subtitle = cat(group_digits(p.stats.edges), " edges");
  Canvas c = viz::pattern_figure(p.graph, p.label, fo);
  return figure(c, cat("attention pattern of ", p.label));
}

std::string coverage_svg(const std::vector<PatternReport>& ps) {
  viz::LineChart ch;
  ch.xlabel = "hops k";
  ch.ylabel = "coverage (pairs within k hops)";
  ch.percent_y = true;
  ch.ymin = 0;
  ch.ymax = 1;
  ch.xmin = 0;
  for (std::size_t i = 0; i < ps.size(); ++i) {
    viz::Series s{ps[i].label, viz::series_color(i), {{0.0, 0.0}}, true, false};
    for (std::size_t k = 0; k < ps[i].reach.coverage.size(); ++k)
      s.points.emplace_back(static_cast<double>(k + 1), ps[i].reach.coverage[k]);
    ch.series.push_back(s);
  }
  ch.hlines.emplace_back(1.0, "full attention");
  // Overlapping curves stay visible: earlier series are drawn wider, later ones on top.
  for (std::size_t i = 0; i < ch.series.size(); ++i) {
    ch.series[i].width = 2.0 + 2.0 * static_cast<double>(ch.series.size() - 1 - i);
    ch.series[i].marker = ch.series[i].width / 2 + 1.8;
  }
  Canvas c(700, 360);
  viz::draw_line_chart(c, Box{0, 0, 700, 360}, ch);
  return figure(c, "coverage versus hops");
}

std::string gap_svg(const std::vector<PatternReport>& ps) {
  viz::BarChart ch;
  ch.horizontal = true;
  ch.xlabel = "spectral gap 1 - |lambda_2(P)|";
  ch.vmax = 1.0;
  for (std::size_t i = 0; i < ps.size(); ++i) {
    const bool ok = ps[i].spectral.lambda2_reliable;
    ch.labels.push_back(ps[i].label);
    ch.values.push_back(ok ? ps[i].spectral.spectral_gap : 0.0);
    ch.value_labels.push_back(ok ? std::string() : "unreliable: P far from normal");
    ch.colors.push_back(viz::series_color(i));
  }
  const int h = static_cast<int>(70 + 34 * ps.size());
  Canvas c(480, h);
  viz::draw_bar_chart(c, Box{0, 0, 480, static_cast<double>(h)}, ch);
  return figure(c, "spectral gap");
}

std::string mass_svg(const std::vector<PatternReport>& ps) {
  viz::LineChart ch;
  ch.xlabel = "hop k";
  ch.ylabel = "outside_k: weight from non-neighbours";
  ch.percent_y = true;
  ch.ymin = 0;
  ch.ymax = 1;
  for (std::size_t i = 0; i < ps.size(); ++i) {
    viz::Series s{ps[i].label, viz::series_color(i), {}, true, false};
    for (const auto& h : ps[i].mass.hops) s.points.emplace_back(h.k, h.mean);
    ch.series.push_back(s);
  }
  for (std::size_t i = 0; i < ch.series.size(); ++i) {
    ch.series[i].width = 2.0 + 2.0 * static_cast<double>(ch.series.size() - 1 - i);
    ch.series[i].marker = ch.series[i].width / 2 + 1.8;
  }
  Canvas c(620, 330);
  viz::draw_line_chart(c, Box{0, 0, 620, 330}, ch);
  return figure(c, "diffusion mass per hop");
}

std::string mixing_svg(const std::vector<PatternReport>& ps) {
  viz::LineChart ch;
  ch.xlabel = "hops k";
  ch.ylabel = "spread: TV to the average token";
  ch.ymin = 0;
  ch.ymax = 1;
  ch.xmin = 0;
  for (std::size_t i = 0; i < ps.size(); ++i) {
    viz::Series s{ps[i].label, viz::series_color(i), {{0.0, 1.0}}, true, false};
    if (ps[i].spectral.mixing)
      for (const auto& hop : ps[i].spectral.mixing->hops) s.points.emplace_back(hop.k, hop.mean);
    ch.series.push_back(s);
  }
  ch.hlines.emplace_back(diffusion::kMixedSpread, "mixed (1/4)");
  for (std::size_t i = 0; i < ch.series.size(); ++i) {
    ch.series[i].width = 2.0 + 2.0 * static_cast<double>(ch.series.size() - 1 - i);
    ch.series[i].marker = ch.series[i].width / 2 + 1.8;
  }
  Canvas c(620, 330);
  viz::draw_line_chart(c, Box{0, 0, 620, 330}, ch);
  return figure(c, "mixing profile");
}

std::string lambda2_cell(const diffusion::SpectralResult& s) {
  if (!s.lambda2_reliable)
    return "<span title=\"" + xml_escape(s.lambda2_note) + "\">unreliable&dagger;</span>";
  return num(s.lambda2_modulus, 4) + (s.transition.converged ? "" : "*");
}

std::string mixing_cell(const diffusion::SpectralResult& s) {
  if (!s.mixing) return "&ndash;";
  if (s.mixing->mixing_hops) return std::to_string(*s.mixing->mixing_hops) + " hops";
  return "&gt; " + std::to_string(s.mixing->hops.empty() ? 0 : s.mixing->hops.back().k);
}

}  // namespace

std::string render_report(const std::vector<PatternReport>& ps, const ReportMeta& meta) {
  if (ps.empty()) throw Error("report: no patterns");
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" + xml_escape(meta.title) +
       "</title>\n<style>" + kCss + "</style></head><body>\n";
  h += "<h1>" + xml_escape(meta.title) + "</h1>\n";
  h += "<div class=\"sub\">" + group_digits(meta.n) + " tokens, seed " + std::to_string(meta.seed) + ", " +
       std::to_string(ps.size()) + " pattern" + (ps.size() == 1 ? "" : "s") +
       ". Edge j &rarr; i: token i attends to j; " + "information flows along edges. Made by <code>" +
       xml_escape(meta.command) + "</code>.</div>\n";

  // Summary table.
  const int K = ps.front().reach.max_hops;
  h += "<div class=\"card summary\"><table><tr><th>pattern</th><th>expression</th><th>edges</th><th>per "
       "token</th>"
       "<th>in-degree min / max</th>";
  for (int k = 1; k <= std::min(K, 3); ++k)
    h += "<th>coverage " + std::to_string(k) + " hop" + (k == 1 ? "" : "s") + "</th>";
  h += "<th>full coverage</th><th>diameter</th><th "
       "style=\"white-space:nowrap\">|&lambda;<sub>2</sub>(P)|</th><th>spectral gap</th><th>mixing (TV &le; "
       "1/4)</th>"
       "<th>&lambda;<sub>2</sub>(L<sub>sym</sub>)</th><th>outside mass</th></tr>\n";
  for (std::size_t i = 0; i < ps.size(); ++i) {
    const PatternReport& p = ps[i];
    h += "<tr><td><span class=\"swatch\" style=\"background:" + viz::hex(viz::series_color(i)) +
         "\"></span>" + xml_escape(p.label) + "</td><td class=\"spec\">" + xml_escape(p.spec) + "</td>";
    h += "<td>" + group_digits(p.stats.edges) + "</td><td>" + num(p.stats.in_degree_mean, 4) + "</td>";
    h += "<td>" + group_digits(p.stats.in_degree_min) + " / " + group_digits(p.stats.in_degree_max) + "</td>";
    for (int k = 1; k <= std::min(K, 3); ++k)
      h += "<td>" + pct(p.reach.coverage[static_cast<std::size_t>(k - 1)], 2) + "</td>";
    h += "<td>" +
         (p.reach.full_coverage_hops ? std::to_string(*p.reach.full_coverage_hops) + " hops"
                                     : std::string("never")) +
         "</td><td>" + std::to_string(p.reach.diameter) + "</td>";
    h += "<td>" + lambda2_cell(p.spectral) + "</td><td>" +
         (p.spectral.lambda2_reliable ? num(p.spectral.spectral_gap, 4) : std::string("&ndash;")) +
         "</td><td>" + mixing_cell(p.spectral) + "</td><td>" + num(p.spectral.laplacian_lambda2.value, 4) +
         "</td>";
    h += "<td>" + pct(p.mass.outside_mass, 1) +
         (p.mass.exact ? "" : " &plusmn;" + pct(p.mass.half_width, 1)) + "</td></tr>\n";
  }
  h += "</table><div class=\"note\">Coverage: fraction of ordered pairs (i, j), i &ne; j, with i receiving "
       "from j within k "
       "hops" +
       std::string(ps.front().reach.exact ? " (exact)"
                                          : cat(" (sampled: &plusmn;",
                                                num(ps.front().reach.coverage_half_width, 2), " at 95%)")) +
       ". P = D<sup>-1</sup>A is uniform attention; gap = 1 &minus; |&lambda;<sub>2</sub>| (" +
       "* = not converged; &dagger; = the eigenvalue problem is ill-conditioned, P being far from normal: "
       "no trustworthy value exists, use the mixing column). Mixing: hops until every token's k-hop "
       "attention is within total-variation distance 1/4 of the average token's. L<sub>sym</sub>: normalized "
       "Laplacian of the symmetrized graph. Outside mass: "
       "share of the "
       "diffused attention (" +
       xml_escape(meta.coefficients) +
       ", uniform attention) that comes from tokens a token is not directly connected to.</div></div>\n";

  h += "<h2>Coverage versus hops</h2><div class=\"row\"><div class=\"card\" style=\"width:700px\">" +
       coverage_svg(ps) +
       "<div class=\"note\">How many hops a token needs before it can receive information from (almost) "
       "every other token. "
       "Full attention is 100% at one hop.</div></div>\n";
  h +=
      "<div class=\"card\" style=\"width:480px\"><h3>Spectral gap of uniform attention</h3>" + gap_svg(ps) +
      "<div class=\"note\">After k hops the non-stationary part of repeated attention shrinks like "
      "|&lambda;<sub>2</sub>|<sup>k</sup>: "
      "a larger gap mixes faster (expander graphs). For directed patterns far from normal (causal "
      "windows) the eigenvalues say little about the first hops: see the mixing profile.</div></div></div>\n";
  h +=
      std::string(
          "<h2>Mixing and diffusion mass</h2><div class=\"row\"><div class=\"card\" style=\"width:620px\">") +
      "<h3>Mixing of uniform attention</h3>" + mixing_svg(ps) +
      "<div class=\"note\">Spread after k hops: the total-variation distance between a token's k-hop "
      "uniform attention (row of P<sup>k</sup>) and the average token's, mean over tokens" +
      std::string(ps.front().spectral.mixing && !ps.front().spectral.mixing->exact
                      ? cat(" (", ps.front().spectral.mixing->sample_sources, " sampled tokens, &plusmn;",
                            num(ps.front().spectral.mixing->half_width, 2), " at 95%)")
                      : std::string(" (all tokens)")) +
      ". It needs no eigenvalue, so it means the same for directed graphs; 0 = every token hears the "
      "same mixture.</div></div>\n";
  h += "<div class=\"card\" style=\"width:620px\"><h3>Diffusion mass</h3>" + mass_svg(ps) +
       "<div class=\"note\">outside<sub>k</sub>(i): share of token i's hop-k attention (A<sup>k</sup>) that "
       "comes from tokens "
       "outside i and its direct sources; 0 for k &le; 1 by construction. Mean over "
       "tokens.</div></div></div>\n";

  h += "<h2>Patterns side by side</h2><div class=\"row\">\n";
  for (std::size_t i = 0; i < ps.size(); ++i) {
    const PatternReport& p = ps[i];
    h += "<div class=\"card pcard\"><h3><span class=\"swatch\" style=\"background:" +
         viz::hex(viz::series_color(i)) + "\"></span>" + xml_escape(p.label) + "</h3><div class=\"spec\">" +
         xml_escape(p.spec) + "</div>";
    h += pattern_svg(p);
    h += degree_histogram_svg(p, viz::series_color(i));
    h += "<table>";
    auto row = [&](const std::string& k, const std::string& v) {
      h += "<tr><td>" + k + "</td><td>" + v + "</td></tr>";
    };
    row("edges", group_digits(p.stats.edges) + " (density " + num(p.stats.density, 3) + ")");
    row("in-degree min / mean / max", group_digits(p.stats.in_degree_min) + " / " +
                                          num(p.stats.in_degree_mean, 5) + " / " +
                                          group_digits(p.stats.in_degree_max));
    row("symmetric", p.stats.symmetric ? "yes" : "no");
    row("receptive field, 1 hop (min / mean)",
        group_digits(p.reach.receptive_field[0].min) + " / " + num(p.reach.receptive_field[0].mean, 5));
    if (p.reach.receptive_field.size() >= 2)
      row("receptive field, 2 hops (min / mean)",
          group_digits(p.reach.receptive_field[1].min) + " / " + num(p.reach.receptive_field[1].mean, 5));
    const diffusion::SpectralResult& sp = p.spectral;
    if (sp.lambda2_reliable)
      row("&lambda;<sub>2</sub>(P)",
          num(sp.lambda2.real(), 5) +
              (std::fabs(sp.lambda2.imag()) > 1e-9 ? " " + num(sp.lambda2.imag(), 3) + "i" : "") + " (" +
              sp.lambda2_method +
              (sp.lambda2_condition ? ", condition " + num(*sp.lambda2_condition, 2) : std::string()) +
              (sp.lambda2_method == "structural" ? std::string()
                                                 : ", residual " + num(sp.transition.residual, 2)) +
              ")");
    else
      row("&lambda;<sub>2</sub>(P)", "unreliable: " + xml_escape(sp.lambda2_note));
    row("strongly connected components", group_digits(sp.strong_components));
    if (sp.mixing)
      row("mixing: spread after 1 / 2 / 4 hops", [&] {
        std::string v;
        for (const int k : {1, 2, 4}) {
          if (!v.empty()) v += " / ";
          const auto& hops = sp.mixing->hops;
          v += static_cast<std::size_t>(k) <= hops.size() ? num(hops[static_cast<std::size_t>(k - 1)].mean, 3)
                                                          : std::string("&lt;0.001");
        }
        return v;
      }());
    row("components (symmetrized)", group_digits(p.spectral.components));
    if (p.spectral.ramanujan_bound)
      row("nontrivial |&mu;| vs Ramanujan 2&radic;(d&minus;1)/d",
          num(p.spectral.adjacency_nontrivial, 4) + " vs " + num(*p.spectral.ramanujan_bound, 4));
    row("analysis time", num(p.seconds, 3) + " s");
    h += "</table></div>\n";
  }
  h += "</div>\n</body></html>\n";
  return h;
}

}  // namespace diffuser::viz
