#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>
#include <diffuser/graphs/formats.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "graph_source.hpp"
#include "tool_util.hpp"

namespace diffuser::cli {

OptionGroup graph_option_group() {
  return {"graph (one of)",
          {{.label = "--pattern SPEC", .help = "a pattern expression over N tokens (terms: `diffuser graph --help`)"},
           {.label = "--graph FILE",
            .help = "a graph file (.txt .mtx .npy .dot .graphml); N defaults to the file's node count, or its "
                    "largest id + 1"},
           {.label = "--n N",
            .help = "the number of tokens: needed by --pattern; with --graph it may add trailing tokens without "
                    "edges",
            .type = Option::Type::integer,
            .min = 1,
            .max = static_cast<double>(kMaxNodes)},
           {.label = "--seed S",
            .help = "seed of the random pattern terms (default 0)",
            .type = Option::Type::integer,
            .min = 0}}};
}

std::vector<std::pair<std::string, std::filesystem::path>> graph_inputs(const Args& args) {
  Args probe = args;
  std::vector<std::pair<std::string, std::filesystem::path>> inputs;
  try {
    if (const auto file = probe.get("graph")) inputs.emplace_back("graph", *file);
    if (const auto pattern = probe.get("pattern"))
      for (const auto& t : graphs::parse_pattern(*pattern))
        if (t.name == "file") inputs.emplace_back("pattern", t.path);
  } catch (const Error&) {
    // Bad options are reported where they are read (graph_from_args), in their usual words.
  }
  return inputs;
}

GraphSource graph_from_args(Args& args) {
  auto pattern = args.get("pattern");
  auto file = args.get("graph");
  auto n = args.get_int("n");
  const auto seed = args.get_int("seed", 0);
  if (pattern && file) throw UsageError("give either --pattern or --graph, not both");
  if (!pattern && !file) throw UsageError("missing graph: give --pattern SPEC --n N or --graph FILE");
  GraphSource src;
  Stopwatch sw;
  if (pattern) {
    if (!n) throw UsageError("--pattern needs --n N (the number of tokens)");
    src.graph = graphs::build_pattern(*pattern, *n, static_cast<std::uint64_t>(seed));
    src.description = cat("pattern '", *pattern, "' (N=", *n, ", seed ", seed, ")");
  } else {
    src.graph = graphs::read_graph(*file, n);
    src.description = cat("file ", *file);
  }
  if (expensive_checks()) src.graph.validate();  // sorted, unique, in-range rows: the builders' promise
  src.build_ms = sw.ms();
  return src;
}

}  // namespace diffuser::cli
