// `diffuser curves`: training curves from runs' log.csv files as a line chart (SVG or PNG), one
// series per label, the mean of the runs given for it (seeds), drawn with the analysis pictures' viz.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/error.hpp>

#include <diffuser/viz/canvas.hpp>
#include <diffuser/viz/charts.hpp>

#include "cli.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kColumns{"step",      "loss",         "lr",           "grad_norm",
                                        "tokens",    "tokens_per_s", "step_s",       "cpu_s",
                                        "elapsed_s", "eval_loss",    "eval_accuracy"};

struct Point {
  double step, x, y;
};

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> f;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, ',')) f.push_back(cell);
  if (!line.empty() && line.back() == ',') f.emplace_back();
  return f;
}

// (step, x, y) of every row of a log.csv where y is present; columns found by their header names.
std::vector<Point> read_log(const fs::path& dir, const std::string& xname, const std::string& yname) {
  const fs::path file = dir / "log.csv";
  std::ifstream in(file);
  if (!in) throw Error(cat(file.string(), ": missing"));
  std::string line;
  std::getline(in, line);
  const auto header = split(line);
  if (header.empty() || header[0] != "step")
    throw Error(cat(file.string(), ": not a diffuser train log (header '", line, "')"));
  auto index = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) throw Error(cat(file.string(), ": no column '", name, "'"));
    return static_cast<std::size_t>(it - header.begin());
  };
  const std::size_t xc = index(xname), yc = index(yname);
  std::vector<Point> out;
  std::size_t row = 1;
  while (std::getline(in, line)) {
    ++row;
    const auto f = split(line);
    if (f.size() <= std::max(xc, yc) || f[yc].empty()) continue;
    try {
      out.push_back({std::stod(f[0]), std::stod(f[xc]), std::stod(f[yc])});
    } catch (...) {
      throw Error(cat(file.string(), ":", row, ": not a number in '", line, "'"));
    }
  }
  return out;
}

void check_column(const std::string& name, const char* option) {
  if (std::find(kColumns.begin(), kColumns.end(), name) == kColumns.end())
    throw UsageError(cat("--", option, ": unknown column '", name, "' (see diffuser curves --help)"));
}

int run_curves_body(Args& args) {
  const auto series_args = args.get_all("series");
  const fs::path out = args.require("out");
  const std::string y = args.get("y").value_or("eval_accuracy");
  const std::string x = args.get("x").value_or("step");
  const std::int64_t smooth = args.get_int("smooth", 1);
  const auto title = args.get("title");
  const auto subtitle = args.get("subtitle");
  const auto hlines = args.get_all("hline");
  const auto ymin = args.get_double("ymin");
  const auto ymax = args.get_double("ymax");
  const std::int64_t width = args.get_int("width", 900), height = args.get_int("height", 480);
  args.finish();
  if (series_args.empty()) throw UsageError("give at least one --series LABEL=RUNDIR[,RUNDIR..]");
  if (smooth < 1) throw UsageError(cat("--smooth must be >= 1, got ", smooth));
  if (width < 200 || height < 150 || width > 8000 || height > 8000)
    throw UsageError("--width and --height must be in [200, 8000] and [150, 8000]");
  check_column(y, "y");
  check_column(x, "x");
  const std::string ext = out.extension().string();
  if (ext != ".svg" && ext != ".png" && ext != ".pdf")
    throw UsageError(cat("--out ", out.string(), ": the name must end in .svg, .png or .pdf"));
  check_output_path(out, "out");

  viz::LineChart chart;
  chart.title = title.value_or(y + " during training");
  chart.subtitle = subtitle.value_or(series_args.size() > 0 ? "mean over the runs of each series" : "");
  chart.xlabel = x == "step" ? "step" : "training time (s)";
  chart.ylabel = y;
  chart.percent_y = y == "eval_accuracy";
  chart.integer_x = x == "step";
  chart.ymin = ymin;
  chart.ymax = ymax;
  if (chart.percent_y && !ymin) chart.ymin = 0.0;
  for (const auto& h : hlines) {
    const auto eq = h.find('=');
    if (eq == std::string::npos) throw UsageError(cat("--hline '", h, "': expected VALUE=LABEL"));
    chart.hlines.emplace_back(parse_double(h.substr(0, eq), "--hline"), h.substr(eq + 1));
  }
  for (std::size_t s = 0; s < series_args.size(); ++s) {
    const std::string& arg = series_args[s];
    const auto eq = arg.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size())
      throw UsageError(cat("--series '", arg, "': expected LABEL=RUNDIR[,RUNDIR..]"));
    std::vector<fs::path> dirs;
    std::stringstream ss(arg.substr(eq + 1));
    std::string d;
    while (std::getline(ss, d, ',')) dirs.emplace_back(d);
    // The mean of x and y at the steps every run logged (seeds log the same steps).
    struct Sum {
      double x = 0, y = 0;
      int runs = 0;
    };
    std::map<double, Sum> acc;
    for (const auto& dir : dirs)
      for (const Point& p : read_log(dir, x, y)) {
        Sum& a = acc[p.step];
        a.x += p.x;
        a.y += p.y;
        ++a.runs;
      }
    std::vector<std::pair<double, double>> points;
    for (const auto& [step, a] : acc)
      if (a.runs == static_cast<int>(dirs.size())) points.emplace_back(a.x / a.runs, a.y / a.runs);
    if (points.empty()) throw Error(cat("--series '", arg.substr(0, eq), "': no logged ", y, " in its runs"));
    if (smooth > 1) {
      std::vector<std::pair<double, double>> sm;
      for (std::size_t i = 0; i < points.size(); ++i) {
        const std::size_t lo =
            i + 1 >= static_cast<std::size_t>(smooth) ? i + 1 - static_cast<std::size_t>(smooth) : 0;
        double m = 0;
        for (std::size_t k = lo; k <= i; ++k) m += points[k].second;
        sm.emplace_back(points[i].first, m / static_cast<double>(i - lo + 1));
      }
      points = std::move(sm);
    }
    viz::Series ser{arg.substr(0, eq), viz::series_color(s), points, points.size() <= 40, false};
    ser.width = 2.0;
    chart.series.push_back(std::move(ser));
  }
  viz::Canvas canvas(static_cast<int>(width), static_cast<int>(height));
  viz::draw_line_chart(canvas, viz::Box{0, 0, static_cast<double>(width), static_cast<double>(height)},
                       chart);
  const std::string bytes = canvas.render(viz::format_from_path(out), chart.title);
  AtomicOutput file(out);
  file.stream().write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.commit();
  std::string labels;
  for (const auto& ser : chart.series) labels += (labels.empty() ? "series " : ", ") + ser.name;
  for (std::size_t k = 0; k < chart.hlines.size(); ++k)
    labels += (k ? ", " : "; line ") + chart.hlines[k].second;
  std::printf("wrote:    %s (%s against %s: %s)\n", out.c_str(), y.c_str(), x.c_str(), labels.c_str());
  return 0;
}

int run_curves(Args& args) {
  return with_one_line_errors(args, &run_curves_body);
}

const Registrar reg({
    .name = "curves",
    .summary = "training curves from runs' log.csv as a line chart (.svg, .png, .pdf)",
    .usage = {"--series LABEL=RUNDIR[,RUNDIR..] [--series ..] --out FILE.svg|.png|.pdf",
              "[--y eval_accuracy] [--x step] [--smooth W] [--title T] [--subtitle S]",
              "[--hline VALUE=LABEL] [--ymin Y] [--ymax Y] [--width W] [--height H]"},
    .about = "Draws columns of diffuser train's log.csv: one line per --series, the mean over its runs (e.g.\n"
             "seeds) of x and y at the steps every run logged, as one chart.\n",
    .options = {
        {"options",
         {
          {.label = "--series LABEL=DIRS",
           .help = "a label and comma-separated run folders (each with log.csv); repeatable; the label ends at the last '='",
           .repeatable = true},
          {.label = "--y COLUMN",
           .help = "loss, lr, grad_norm, tokens_per_s, step_s, cpu_s, eval_loss or eval_accuracy (default eval_accuracy, drawn as a percentage)"},
          {.label = "--x COLUMN",
           .help = "step (default) or elapsed_s (training time)"},
          {.label = "--smooth W",
           .help = "moving average over W logged points (default 1: none)", .type = Option::Type::integer},
          {.label = "--hline VALUE=LABEL",
           .help = "a dashed reference line (e.g. chance: --hline 0.1=chance); repeatable",
           .repeatable = true},
          {.label = "--title T", .help = "the chart's title"},
          {.label = "--subtitle S", .help = "a line under the title"},
          {.label = "--ymin Y", .help = "the lower end of the y axis (default: from the data)", .type = Option::Type::number},
          {.label = "--ymax Y", .help = "the upper end of the y axis (default: from the data)", .type = Option::Type::number},
          {.label = "--width W", .help = "pixels (default 900)", .type = Option::Type::integer},
          {.label = "--height H", .help = "pixels (default 480)", .type = Option::Type::integer},
          {.label = "--out FILE",
           .help = ".svg, .png or .pdf (format from the extension)"},
         }},
    },
    .notes = "example:\n"
             "  diffuser curves --series 'K=0=runs/w0-s1,runs/w0-s2' --series 'K=5=runs/w5-s1,runs/w5-s2' \\\n"
             "                  --y eval_accuracy --hline 0.1=chance --out accuracy.svg\n"
             "\n"
             "exit status: 0 success, 1 bad data (a missing log.csv or column), 2 bad usage.\n",
    .docs = "[EXPERIMENTS.md](EXPERIMENTS.md)",
    .run = &run_curves,
    .order = 39,
});

}  // namespace

}  // namespace diffuser::cli
