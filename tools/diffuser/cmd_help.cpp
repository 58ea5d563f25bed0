// `diffuser help`: the overview, and docs/CLI.md generated from the commands' option tables
// (`diffuser help --markdown --template docs/CLI.md.in > docs/CLI.md`, the cli_docs target).
#include <cstdio>
#include <fstream>
#include <sstream>

#include <diffuser/engine/error.hpp>

#include "cli.hpp"
#include "cli_help.hpp"

namespace diffuser::cli {

namespace {

std::string read_template(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(cat("--template ", path, ": cannot open it"));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int run_help(Args& args) {
  const bool markdown = args.flag("markdown");
  const auto template_path = args.get("template");
  const bool check = args.flag("check");
  args.finish();
  if (template_path && !markdown) throw UsageError("--template goes with --markdown");
  if (check) {
    int problems = 0;
    for (const auto& c : commands())
      for (const auto& p : table_problems(c)) {
        std::fprintf(stderr, "%s\n", p.c_str());
        ++problems;
      }
    if (problems > 0) throw Error(cat(problems, " problem(s) in the option tables"));
    std::printf("the option tables of %zu commands agree with their synopses\n", commands().size());
    return 0;
  }
  if (markdown) {
    const std::string text = markdown_reference(template_path ? read_template(*template_path) : "");
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  std::fputs(overview_text().c_str(), stdout);
  return 0;
}

const Registrar reg({
    .name = "help",
    .summary = "this overview; --markdown writes docs/CLI.md from the commands' option tables",
    .usage = {"[--markdown [--template FILE]] [--check]"},
    .about = "Prints the overview of the commands, or the command-line reference in Markdown. Every command's\n"
             "options, their --help and docs/CLI.md come from one table per command (tools/diffuser/cli.hpp).",
    .options = {{"",
                 {{.label = "--markdown", .help = "print the reference in Markdown (docs/CLI.md)"},
                  {.label = "--template FILE",
                   .help = "the prose around it: @commands@ becomes the table of commands, @usage NAME@ and "
                           "@options NAME@ a command's synopsis and option table (docs/CLI.md.in; default: a "
                           "plain reference)"},
                  {.label = "--check", .help = "check that every option a synopsis names is in the table (exit 1 "
                                               "otherwise)"}}}},
    .notes = "examples:\n"
             "  diffuser help --markdown --template docs/CLI.md.in > docs/CLI.md\n"
             "  cmake --build build --target cli_docs        # the same\n",
    .run = &run_help,
    .order = 1000,
});

}  // namespace

}  // namespace diffuser::cli
