// `diffuser graph`: builds a token graph from a pattern or reads a graph file, prints its
// statistics and optionally writes it in another format (conversion).
#include <cstdio>
#include <string>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>
#include <diffuser/graphs/formats.hpp>
#include <diffuser/graphs/pattern.hpp>
#include <diffuser/graphs/stats.hpp>

#include "analysis_json.hpp"
#include "cli.hpp"
#include "graph_source.hpp"
#include "json_out.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

namespace {

std::string pattern_terms() {
  std::string out;
  try {
    for (const auto& line : graphs::pattern_help()) out += "  " + line + "\n";
  } catch (...) {
    out.clear();
  }
  if (out.empty()) out = "  (see docs/CLI.md)\n";
  return out;
}

void print_text(const GraphSource& src, const graphs::GraphStats& s) {
  std::printf("graph: %s\n", src.description.c_str());
  std::string stats = graphs::format_stats(s);
  if (!stats.empty() && stats.back() != '\n') stats.push_back('\n');
  std::fputs(stats.c_str(), stdout);
  std::printf("%-17s%.3f ms\n", "build time:", src.build_ms);
}

void print_json(const GraphSource& src, const graphs::GraphStats& s, const std::string& out,
                double write_ms) {
  Json j = graph_stats_json(src.description, s, src.build_ms);
  if (!out.empty()) {
    j["out"] = out;
    j["write_ms"] = write_ms;
  }
  std::printf("%s\n", dump_json(j).c_str());
}

int run_graph_body(Args& args) {
  const auto out = args.get("out");
  const bool json = args.flag("json");
  finish_except_graph_options(args);
  if (out) {
    graphs::format_from_path(*out);  // unknown extension: UsageError before any work
    check_outputs_not_inputs(graph_inputs(args), {{"out", *out}});
    check_output_path(*out, "out");
  }
  GraphSource src = graph_from_args(args);
  args.finish();
  if (src.graph.num_nodes() == 0) throw Error(cat("the graph (", src.description, ") has no nodes"));

  const graphs::GraphStats s = graphs::graph_stats(src.graph);
  if (!json) print_text(src, s);
  double write_ms = 0;
  if (out) {
    Stopwatch sw;
    graphs::write_graph(src.graph, *out);
    write_ms = sw.ms();
    if (!json)
      std::printf("wrote %s (%s, %s edges) in %.3f ms\n", out->c_str(),
                  graphs::format_name(graphs::format_from_path(*out)), group_digits(s.edges).c_str(),
                  write_ms);
  }
  if (json) print_json(src, s, out.value_or(""), write_ms);
  return 0;
}

int run_graph(Args& args) {
  return with_one_line_errors(args, &run_graph_body);
}

const Registrar reg({
    .name = "graph",
    .summary = "build a token graph from a pattern or convert a graph file; print statistics",
    .usage = {"(--pattern SPEC --n N [--seed S] | --graph FILE [--n N]) [--out FILE] [--json]"},
    .about = "Builds a token graph from a pattern expression or reads a graph file, prints its statistics\n"
             "(nodes, edges, in-degree min/mean/max, self loops, symmetry) and the build time, and with --out\n"
             "writes it in the format of the file extension (so --graph a.txt --out a.mtx converts).\n",
    .options = {
        graph_option_group(),
        {"output",
         {
          {.label = "--out FILE",
           .help = "write the graph; the format follows the extension:\n  .txt .edges .el  text edge list, one 'src dst' per line, 0-based, # comments\n  .mtx             Matrix Market coordinate; entry (i, j) = A[i, j] = edge j->i, 1-based\n  .npy             int array (E, 2) of (src, dst)\n  .dot .gv         GraphViz DOT (digraph, edges src -> dst)\n  .graphml         GraphML (directed)"},
          {.label = "--json",
           .help = "print the statistics as one JSON object instead of text"},
         }},
    },
    .notes = "convention: an edge j -> i means token i attends to token j (row i of the attention matrix\n"
             "lists i's sources). N defaults to the file's own count (Matrix Market size line, DOT/GraphML\n"
             "nodes) or the largest id + 1.\n"
             "\n"
             "pattern terms (join with '+' for the union; random terms follow --seed):\n" +
             pattern_terms() + "  diffuser is the authors' recipe: " + graphs::kDiffuserRecipe + "\n" +
             "\n"
             "examples:\n"
             "  diffuser graph --pattern window:2 --n 16\n"
             "  diffuser graph --pattern 'blocks:8+random:4+global:2' --n 128 --seed 7 --out g.mtx\n"
             "  diffuser graph --pattern diffuser --n 4096 --json\n"
             "  diffuser graph --graph g.mtx --out g.graphml      # convert\n"
             "\n"
             "exit status: 0 success, 1 bad data (unreadable file, id out of range), 2 bad usage.\n",
    .run = &run_graph,
    .order = 10,
});

}  // namespace

}  // namespace diffuser::cli
