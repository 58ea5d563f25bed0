// Errors a user can cause (bad file, bad value, bad usage) and internal invariant checks.
// Tools catch diffuser::Error, print its one-line message and exit 1 (2 for UsageError).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace diffuser {

// Bad data: a malformed file, an out-of-range id, NaN in an input, a job too large. Exit code 1.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad usage: unknown option, missing argument, unparsable number. Exit code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

// Concatenates anything streamable into one string: cat("line ", 3, ": bad id ", id).
template <class... Args>
std::string cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

[[noreturn]] void assertion_failed(const char* expr, const char* file, int line);

// A short, printable excerpt of untrusted input for an error message: bytes that are not
// printable ASCII or valid UTF-8 (control bytes, escape sequences, stray high bytes) become \xNN,
// and text longer than `max_bytes` is cut with "... (N bytes)" so a 1 MB token stays one line.
std::string excerpt(std::string_view text, std::size_t max_bytes = 48);
// A message as one line: runs of blanks holding a line break or tab become one space, trailing
// blanks go (join_lines); then other control bytes and invalid UTF-8 are escaped as in excerpt.
std::string join_lines(std::string_view message);
std::string one_line(std::string_view message);

}  // namespace diffuser

// Internal invariants: checked in debug builds and in builds configured with DIFFUSER_ASSERTS=ON
// (the sanitizer build, scripts/sanitize.sh); compiled out in release builds.
#if !defined(NDEBUG) || defined(DIFFUSER_ENABLE_ASSERTS)
#define DIFFUSER_ASSERT(cond) ((cond) ? (void)0 : ::diffuser::assertion_failed(#cond, __FILE__, __LINE__))
#else
#define DIFFUSER_ASSERT(cond) ((void)0)
#endif

// A check that always runs and throws diffuser::Error with a composed message.
#define DIFFUSER_CHECK(cond, ...)                                       \
  do {                                                                  \
    if (!(cond)) throw ::diffuser::Error(::diffuser::cat(__VA_ARGS__)); \
  } while (0)
