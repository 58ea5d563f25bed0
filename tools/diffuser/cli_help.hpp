// Everything the command line says about itself, from the commands' option tables (cli.hpp): the
// --help of each command, the overview of `diffuser --help`, and docs/CLI.md (a template's prose
// with each command's synopsis and option table filled in).
#pragma once

#include <string>
#include <vector>

#include "cli.hpp"

namespace diffuser::cli {

// `diffuser NAME --help`.
std::string help_text(const Command& c);
// `diffuser --help`.
std::string overview_text();

// docs/CLI.md from its template: "@commands@" becomes the table of commands, "@usage NAME@" the
// synopsis of a command and "@options NAME@" its option table; every command must appear in both
// (Error naming the command otherwise). An empty template gives a plain reference of every command.
std::string markdown_reference(const std::string& template_text);

// What does not agree within a command's table: an option in the synopsis that the table lacks, a
// name declared twice with different meanings. Empty when all is well.
std::vector<std::string> table_problems(const Command& c);

}  // namespace diffuser::cli
