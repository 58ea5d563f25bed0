// The analysis commands end to end: reach, spectral and mass JSON against the library, pictures
// with the size they announce (PNG and SVG headers read back), golden cell counts, the node-link
// drawing and the self-contained HTML report.
#include <catch2/catch.hpp>

#include <map>
#include <regex>

#include <nlohmann/json.hpp>

#include <diffuser/diffusion/mass.hpp>
#include <diffuser/diffusion/reach.hpp>
#include <diffuser/diffusion/spectral.hpp>
#include <diffuser/engine/npy.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "tools/cli_runner.hpp"
#include "viz/picture_check.hpp"

using namespace diffuser;
using namespace diffuser::test::cli;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

RunResult ok(const std::vector<std::string>& args, const TempDir& dir) {
  RunResult r = run_cli(args, dir.path());
  INFO("args: " << args.front() << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE_FALSE(r.signaled);
  REQUIRE(r.exit_code == 0);
  return r;
}

// "wrote FILE (W x H)"
std::pair<int, int> announced_size(const std::string& out) {
  std::smatch m;
  REQUIRE(std::regex_search(out, m, std::regex("\\(([0-9]+) x ([0-9]+)\\)")));
  return {std::stoi(m[1]), std::stoi(m[2])};
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t c = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++c;
  return c;
}

}  // namespace

TEST_CASE("reach, spectral and mass print what the library computes", "[cpu][analysis]") {
  TempDir dir;
  const std::string spec = "window:2+random:2";
  const Csr g = graphs::build_pattern(spec, 200, 3);

  const RunResult r =
      ok({"reach", "--pattern", spec, "--n", "200", "--seed", "3", "--max-hops", "5", "--json"}, dir);
  diffusion::ReachOptions ro;
  ro.max_hops = 5;
  const auto expect = diffusion::reach(g, ro);
  const auto rj = nlohmann::json::parse(r.out);
  REQUIRE(rj["coverage"].size() == 5);
  for (std::size_t k = 0; k < 5; ++k)
    CHECK(rj["coverage"][k].get<double>() == Approx(expect.coverage[k]).epsilon(1e-9));
  CHECK((rj["diameter"] == expect.diameter));
  CHECK((rj["nodes"] == 200));
  CHECK((rj["unreachable_pairs"] == expect.unreachable_pairs));
  CHECK((rj["exact"] == true));
  CHECK((rj["receptive_field"][0]["hops"] == 1));
  CHECK(rj["receptive_field"][0]["min"].is_number_integer());
  const RunResult text = ok({"reach", "--pattern", spec, "--n", "200", "--seed", "3"}, dir);
  CHECK_THAT(text.out, Contains("coverage") && Contains("diameter:") && Contains("exact"));
  const auto sampled = nlohmann::json::parse(
      ok({"reach", "--pattern", spec, "--n", "200", "--sample", "50", "--json"}, dir).out);
  CHECK((sampled["exact"] == false));
  CHECK((sampled["sample_sources"] == 50));
  CHECK(sampled["coverage_half_width"].get<double>() ==
        Approx(diffusion::sampling_half_width(50, 200, 0.95)));

  const RunResult s = ok({"spectral", "--pattern", spec, "--n", "200", "--seed", "3", "--json"}, dir);
  const auto es = diffusion::spectral(g);
  const auto sj = nlohmann::json::parse(s.out);
  CHECK(sj["lambda2_modulus"].get<double>() == Approx(es.lambda2_modulus).margin(1e-8));
  CHECK(sj["spectral_gap"].get<double>() == Approx(es.spectral_gap).margin(1e-8));
  CHECK(sj["residual"].get<double>() <= 1e-8);
  CHECK((sj["converged"] == true));
  CHECK((sj["lambda2_reliable"] == true));
  CHECK(sj["laplacian"].is_object());
  CHECK(sj["mixing"]["hops"].size() >= 1);
  CHECK(sj["strong_components"].get<std::int64_t>() == es.strong_components);

  const RunResult m =
      ok({"mass", "--pattern", spec, "--n", "200", "--seed", "3", "--hops", "4", "--alpha", "0.2", "--json"},
         dir);
  const auto em = diffusion::diffusion_mass(g, diffusion::Coefficients::ppr(4, 0.2), {});
  const auto mj = nlohmann::json::parse(m.out);
  CHECK(mj["outside_mass"].get<double>() == Approx(em.outside_mass).margin(1e-9));
  CHECK((mj["attention"] == "uniform"));
  CHECK((mj["per_hop"][0]["k"] == 0));
  CHECK(dir.listing().empty());
}

TEST_CASE("mass with Q and K uses softmax attention per head", "[cpu][analysis]") {
  TempDir dir;
  const std::int64_t n = 64, h = 2, d = 4;
  std::vector<float> q(static_cast<std::size_t>(n * h * d)), k(q.size());
  for (std::size_t i = 0; i < q.size(); ++i) {
    q[i] = static_cast<float>(rng::normal(1, 1, i));
    k[i] = static_cast<float>(rng::normal(1, 2, i));
  }
  npy::save(dir / "q.npy", q.data(), {n, h, d});
  npy::save(dir / "k.npy", k.data(), {n, h, d});
  const RunResult m = ok(
      {"mass", "--pattern", "window:2+random:1", "--n", "64", "--q", "q.npy", "--k", "k.npy", "--json"}, dir);
  const auto mj = nlohmann::json::parse(m.out);
  CHECK((mj["attention"] == "softmax"));
  CHECK((mj["heads"] == 2));
  CHECK(mj["outside_mass_per_head"].size() == 2);
  const RunResult a = ok({"viz", "--pattern", "window:2+random:1", "--n", "64", "--kind", "attention",
                          "--token", "5", "--q", "q.npy", "--k", "k.npy", "--v", "q.npy", "--out", "a.png"},
                         dir);
  const auto png = test::viz::read_png(read_file(dir / "a.png"));
  CHECK(std::make_pair(png.width, png.height) == announced_size(a.out));
}

TEST_CASE("viz pictures have the size they announce, as PNG, SVG and PDF", "[cpu][analysis]") {
  TempDir dir;
  struct Case {
    std::vector<std::string> args;
  };
  const std::vector<Case> cases = {
      {{"--pattern", "window:1", "--n", "8"}},
      {{"--pattern", "diffuser", "--n", "3000"}},  // binned density
      {{"--pattern", "window:2+random:1", "--n", "64", "--kind", "reach", "--hops", "3"}},
      {{"--pattern", "blocks:16+random:2", "--n", "2500", "--kind", "reach", "--hops", "2"}},  // binned reach
      {{"--pattern", "window:2+random:1", "--n", "64", "--kind", "field", "--token", "10", "--hops", "5"}},
      {{"--pattern", "window:2+global:1", "--n", "2000", "--kind", "field", "--hops", "3"}},
      {{"--pattern", "window:3+global:1", "--n", "100", "--kind", "attention", "--hops", "3"}},
  };
  for (const auto& c : cases)
    for (const std::string ext : {"png", "svg", "pdf"}) {
      std::vector<std::string> args{"viz"};
      args.insert(args.end(), c.args.begin(), c.args.end());
      args.insert(args.end(), {"--out", "pic." + ext});
      const RunResult r = ok(args, dir);
      const std::string bytes = read_file(dir / ("pic." + ext));
      REQUIRE(bytes.size() > 500);
      const auto size = announced_size(r.out);
      if (ext == "png") {
        const auto png = test::viz::read_png(bytes);
        CHECK(std::make_pair(png.width, png.height) == size);
        // Not a blank picture: some dark ink and some light background.
        std::size_t dark = 0, light = 0;
        for (const auto& p : png.rgb) {
          const int sum = p[0] + p[1] + p[2];
          dark += sum < 200;
          light += sum > 700;
        }
        CHECK(dark > 500);
        CHECK(light > png.rgb.size() / 4);
      } else if (ext == "svg") {
        CHECK(test::viz::svg_size(bytes) == size);
        CHECK_THAT(bytes, Contains("<title>") && Contains("</svg>"));
      } else {
        const auto pdf = test::viz::read_pdf(bytes);
        CHECK(pdf.pages == 1);
        CHECK(std::make_pair(static_cast<int>(pdf.width), static_cast<int>(pdf.height)) == size);
      }
      fs::remove(dir / ("pic." + ext));
    }
  CHECK(dir.listing().empty());
}

TEST_CASE("golden pictures of tiny patterns", "[cpu][analysis]") {
  TempDir dir;
  // window:1 over 8 tokens: 80 pixels a token from the plot's corner (96, 70); cell (3, 4) is an
  // edge (|3 - 4| <= 1), cell (0, 5) is not; 8 self loops + 2 * 7 neighbours = 22 cells.
  ok({"viz", "--pattern", "window:1", "--n", "8", "--out", "w.png"}, dir);
  const auto png = test::viz::read_png(read_file(dir / "w.png"));
  CHECK(png.at(96 + 4 * 80 + 40, 70 + 3 * 80 + 40) == std::array<int, 3>{31, 78, 121});
  CHECK(png.at(96 + 5 * 80 + 40, 70 + 0 * 80 + 40) == std::array<int, 3>{247, 247, 249});
  int cells = 0;
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) cells += png.at(96 + j * 80 + 40, 70 + i * 80 + 40)[0] == 31;
  CHECK(cells == 22);
  // A 2-hop reach picture of a path 0 <- 1 <- 2 ... has N + 2 (N-1) + 2 (N-2) coloured cells.
  ok({"viz", "--pattern", "window:1", "--n", "6", "--kind", "reach", "--hops", "2", "--out", "r.png"}, dir);
  const auto r = test::viz::read_png(read_file(dir / "r.png"));
  const int cell = 640 / 6;
  int reached = 0;
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j)
      reached +=
          r.at(96 + j * cell + cell / 2, 70 + i * cell + cell / 2) != std::array<int, 3>{247, 247, 249};
  CHECK(reached == 6 + 2 * 5 + 2 * 4);
  // The attention picture names its diffusion, --hops and --alpha included (in the PDF's text).
  ok({"viz", "--pattern", "window:1", "--n", "16", "--kind", "attention", "--hops", "2", "--alpha", "0.5",
      "--title", "attention K=2", "--out", "a.pdf"},
     dir);
  CHECK_THAT(read_file(dir / "a.pdf"), Contains("attention K=2"));  // the document title
}

TEST_CASE("node-link drawings go through GraphViz or fall back to DOT", "[cpu][analysis]") {
  TempDir dir;
  const RunResult d =
      ok({"viz", "--pattern", "window:1+global:1", "--n", "12", "--kind", "graph", "--out", "g.dot"}, dir);
  const std::string dot = read_file(dir / "g.dot");
  CHECK_THAT(dot,
             Contains("digraph tokens") && Contains("1 -> 2;") && Contains("0 -> 11;") && Contains("pos=\""));
  // window:1 (34 edges) + global:1 (20 more), less 12 self loops; one more " -> " in the label.
  CHECK(count(dot, " -> ") == 34 + 20 - 12 + 1);
  const bool graphviz = std::system("command -v neato > /dev/null 2>&1") == 0;
  const RunResult s =
      ok({"viz", "--pattern", "window:1+global:1", "--n", "12", "--kind", "graph", "--out", "g.svg"}, dir);
  if (graphviz) {
    CHECK_THAT(read_file(dir / "g.svg"), Contains("<svg"));
  } else {
    CHECK(fs::exists(dir / "g.dot"));
    CHECK_THAT(s.err, Contains("GraphViz"));
  }
  if (graphviz) {
    // The docs' example with the neato layout crashed Debian's Graphviz 2.43 (splines=true with
    // overlap=false); it draws now, and the DOT asks for no splines.
    ok({"viz", "--pattern", "window:2+random:1", "--n", "64", "--kind", "graph", "--layout", "neato", "--out",
        "n.png"},
       dir);
    CHECK(read_file(dir / "n.png").substr(1, 3) == "PNG");
    ok({"viz", "--pattern", "window:2+random:1", "--n", "64", "--kind", "graph", "--layout", "neato", "--out",
        "n.dot"},
       dir);
    CHECK_THAT(read_file(dir / "n.dot"), !Contains("splines"));
  }
  for (const auto& name : dir.listing()) CHECK(name.find(".tmp-") == std::string::npos);
}

TEST_CASE("report writes one self-contained HTML page", "[cpu][analysis]") {
  TempDir dir;
  ok({"report", "--pattern", "local=window:4", "--pattern", "blocks:8+random:2+global-random:2", "--n", "300",
      "--max-hops", "5", "--out", "r.html", "--quiet"},
     dir);
  const std::string html = read_file(dir / "r.html");
  CHECK_THAT(html, Contains("<!DOCTYPE html>") && Contains("</html>") && Contains("local") &&
                       Contains("blocks:8+random:2+global-random:2") && Contains("Coverage versus hops") &&
                       Contains("spectral gap") && Contains("Diffusion mass"));
  // Figures are inline SVG; Cairo's glyph ids are prefixed per figure, so none is defined twice
  // with different content.
  CHECK(count(html, "<svg") >= 4 + 2 * 2);
  std::map<std::string, int> ids;
  const std::regex id("id=\"([^\"]+)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), id); it != std::sregex_iterator(); ++it)
    ++ids[(*it)[1]];
  CHECK(ids.size() > 50);
  for (const auto& [name, n] : ids) CHECK(n == 1);
  // Nothing to fetch: no scripts, no external references.
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("src=\"http") == std::string::npos);
  CHECK(html.find("href=\"http") == std::string::npos);
  CHECK(html.find("url(http") == std::string::npos);
  CHECK(dir.listing() == std::set<std::string>{"r.html"});
}
