// The command line's option parser and numeric options: tokens separated by NUL bytes, read as
// --n, --alpha, --theta lists and flags, then the unknown-option check.
#include <cmath>
#include <string>
#include <vector>

#include "../tools/diffuser/cli.hpp"
#include "fuzz_common.hpp"

DIFFUSER_FUZZ_INIT

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace diffuser;
  std::vector<std::string> tokens;
  std::string cur;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      tokens.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(data[i]));
    }
  }
  tokens.push_back(cur);
  fuzz::refusals_ok([&] {
    cli::Args args("fuzz", tokens);
    (void)args.get_int("n");
    (void)args.get_double("alpha");
    if (const auto theta = args.get_doubles("theta"))
      for (const double t : *theta)
        if (!std::isfinite(t)) __builtin_trap();  // finite only
    (void)args.flag("json");
    (void)args.get_all("pattern");
    (void)args.positionals();
    args.finish();
  });
  for (const auto& t : tokens) {
    fuzz::refusals_ok([&] { (void)cli::parse_int(t, "--n"); });
    fuzz::refusals_ok([&] { (void)cli::parse_double(t, "--alpha"); });
    fuzz::refusals_ok([&] { (void)cli::split_list(t, "--lengths"); });
  }
  return 0;
}
