#include <cstdio>
#include <system_error>

#include <unistd.h>

#include <diffuser/engine/error.hpp>

#include "tool_util.hpp"

namespace diffuser::cli {

namespace fs = std::filesystem;

void finish_except_graph_options(const Args& args) {
  Args probe = args;
  for (const char* name : {"pattern", "graph", "n", "seed"}) probe.get(name);
  probe.finish();
}

void check_output_path(const fs::path& path, std::string_view option) {
  if (path.empty()) throw UsageError(cat("--", option, " needs a file name"));
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw Error(cat("--", option, " ", path.string(), ": is a directory, expected a file name"));
  fs::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  if (!fs::is_directory(dir, ec))
    throw Error(cat("--", option, " ", path.string(), ": cannot write there, folder '", dir.string(),
                    "' does not exist"));
  if (::access(dir.c_str(), W_OK) != 0)
    throw Error(cat("--", option, " ", path.string(), ": cannot write there, folder '", dir.string(),
                    "' is not writable"));
}

void check_distinct_outputs(const std::vector<std::pair<std::string, fs::path>>& outputs) {
  for (std::size_t a = 0; a < outputs.size(); ++a)
    for (std::size_t b = a + 1; b < outputs.size(); ++b) {
      std::error_code ec;
      const fs::path pa = fs::weakly_canonical(outputs[a].second, ec);
      const fs::path pb = fs::weakly_canonical(outputs[b].second, ec);
      if (pa == pb || outputs[a].second == outputs[b].second)
        throw UsageError(cat("--", outputs[a].first, " and --", outputs[b].first, " name the same file ",
                             outputs[b].second.string()));
    }
}

OutputSet::~OutputSet() {
  if (committed_) return;
  std::error_code ec;
  for (const Entry& e : entries_) {
    fs::remove(e.staged, ec);
    if (e.placed) fs::remove(e.target, ec);
  }
}

fs::path OutputSet::stage(const fs::path& target) {
  fs::path staged = target;
  staged += cat(".tmp-", ::getpid(), "-stage");
  entries_.push_back({target, staged, false});
  return staged;
}

void OutputSet::commit() {
  for (Entry& e : entries_) {
    std::error_code ec;
    fs::rename(e.staged, e.target, ec);
    if (ec) throw Error(cat(e.target.string(), ": cannot move the finished file into place: ", ec.message()));
    e.placed = true;
  }
  committed_ = true;
}

int threads_option(Args& args) {
  const auto t = args.get_int("threads");
  if (!t) return 0;
  if (*t < 1 || *t > 4096) throw UsageError(cat("--threads must be in [1, 4096], got ", *t));
  return static_cast<int>(*t);
}

std::optional<Device> backend_option(Args& args) {
  const auto b = args.get("backend");
  if (!b) return std::nullopt;
  try {
    return parse_device(*b);
  } catch (const UsageError&) {
    throw UsageError(cat("--backend: unknown backend '", *b, "' (expected cpu or cuda)"));
  }
}

std::string group_digits(std::int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return v < 0 ? "-" + out : out;
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

void print_stage(const char* name, double ms) { std::printf("  %-14s %10.3f ms\n", name, ms); }

}  // namespace diffuser::cli
