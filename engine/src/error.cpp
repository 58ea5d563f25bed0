#include <cstdio>
#include <cstdlib>

#include <diffuser/engine/error.hpp>

namespace diffuser {

void assertion_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "diffuser: internal error: assertion '%s' failed at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace diffuser
