#include <cstdio>
#include <exception>
#include <new>
#include <system_error>

#include <unistd.h>

#include <diffuser/diffusion/diffusion.hpp>
#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/npy.hpp>
#include <diffuser/engine/sys.hpp>

#include "tool_util.hpp"

namespace diffuser::cli {

namespace fs = std::filesystem;

void finish_except_graph_options(const Args& args) {
  Args probe = args;
  for (const char* name : {"pattern", "graph", "n", "seed"}) probe.get(name);
  probe.finish();
}

namespace {

bool g_expensive_checks = false;  // set once by main() before the command runs

}  // namespace

bool expensive_checks() {
  return g_expensive_checks;
}
void set_expensive_checks(bool on) {
  g_expensive_checks = on;
}

namespace {

// "--json" and "json" both name the option json (messages add the dashes themselves).
std::string_view bare_option(std::string_view option) {
  while (option.starts_with('-')) option.remove_prefix(1);
  return option;
}

// Same file: same device and inode when both exist (hard and symbolic links included), else the
// same normalised path.
bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec);
  const fs::path ca = fs::weakly_canonical(a, ec), cb = fs::weakly_canonical(b, ec);
  return a == b || (!ca.empty() && ca == cb);
}

}  // namespace

void check_output_path(const fs::path& path, std::string_view option) {
  option = bare_option(option);
  if (path.empty()) throw UsageError(cat("--", option, " needs a file name"));
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw Error(cat("--", option, " ", path.string(), ": is a directory, expected a file name"));
  // Outputs are renamed into place, which would replace a device or a FIFO (--out /dev/null run
  // as root would swap /dev/null for a regular file): only regular files may be overwritten.
  if (fs::exists(path, ec) && !fs::is_regular_file(path, ec))
    throw Error(cat("--", option, " ", path.string(), ": exists and is not a regular file"));
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
    for (std::size_t b = a + 1; b < outputs.size(); ++b)
      if (same_file(outputs[a].second, outputs[b].second))
        throw UsageError(cat("--", bare_option(outputs[a].first), " and --", bare_option(outputs[b].first),
                             " name the same file ", outputs[b].second.string()));
}

void check_outputs_not_inputs(const std::vector<std::pair<std::string, fs::path>>& inputs,
                              const std::vector<std::pair<std::string, fs::path>>& outputs) {
  for (const auto& [out_opt, out] : outputs)
    for (const auto& [in_opt, in] : inputs)
      if (same_file(in, out))
        throw UsageError(cat("--", bare_option(out_opt), " ", out.string(), " is the input of --",
                             bare_option(in_opt),
                             "; writing it would destroy that input (choose another name)"));
}

OutputSet::~OutputSet() {
  if (committed_) return;
  std::error_code ec;
  for (const Entry& e : entries_) {
    fs::remove(e.staged, ec);
    release_temp_path(e.staged);
    if (e.placed) {
      fs::remove(e.target, ec);
      release_temp_path(e.target);
    }
  }
}

void OutputSet::write(const fs::path& target, std::string_view option,
                      const std::function<void(const fs::path&)>& write) {
  // Reserve the staging name (exclusive create), then let the writer replace it atomically.
  TempFile t = create_temp_file_for(target);
  ::close(t.fd);
  entries_.push_back({target, t.path, false});
  try {
    write(t.path);
    // The file as written must read back as what it claims to be (header, size).
    if (expensive_checks() && target.extension() == ".npy") npy::read_header(t.path);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    std::string msg = e.what();
    const std::string staged = t.path.string(), named = cat("--", option, " ", target.string());
    for (auto at = msg.find(staged); at != std::string::npos; at = msg.find(staged, at + named.size()))
      msg.replace(at, staged.size(), named);
    throw Error(msg);
  }
}

void OutputSet::commit() {
  for (Entry& e : entries_) {
    std::error_code ec;
    fs::rename(e.staged, e.target, ec);
    if (ec) throw Error(cat(e.target.string(), ": cannot move the finished file into place: ", ec.message()));
    // Until the whole set is in place, a placed target counts as this run's (a signal removes it).
    announce_temp_path(e.target, false);
    release_temp_path(e.staged);
    e.placed = true;
  }
  for (const Entry& e : entries_) release_temp_path(e.target);
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

int with_one_line_errors(Args& args, int (*body)(Args&)) {
  try {
    return body(args);
  } catch (const UsageError& e) {
    throw UsageError(one_line(e.what()));
  } catch (const Error& e) {
    throw Error(one_line(e.what()));
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(one_line(e.what()));
  }
}

std::int64_t check_budget(const char* job, std::int64_t n, std::int64_t edges, std::int64_t heads,
                          std::int64_t dim, int node_buffers, std::int64_t extra) {
  const std::int64_t graph_bytes = (n + 1) * 8 + edges * 4;
  const std::int64_t weight_bytes = edges * heads * 4;
  const std::int64_t node_bytes = node_buffers * n * heads * dim * 4;
  const std::int64_t total = diffusion::forward_bytes(n, edges, heads, dim, node_buffers) + extra;
  std::printf(
      "memory budget: graph %s + weights %s (E x H x 4 B) + %d node buffers %s (N x H x D x 4 B)%s = %s; "
      "available %s\n",
      format_bytes(graph_bytes).c_str(), format_bytes(weight_bytes).c_str(), node_buffers,
      format_bytes(node_bytes).c_str(), extra > 0 ? cat(" + mask ", format_bytes(extra)).c_str() : "",
      format_bytes(total).c_str(), format_bytes(available_memory_bytes()).c_str());
  std::fflush(stdout);
  require_memory(total, cat(job, " N=", n, " E=", edges, " H=", heads, " D=", dim));
  return total;
}

void require_node_memory(const char* job, std::int64_t n, std::int64_t heads, std::int64_t dim, int buffers) {
  const double bytes =
      4.0 * buffers * static_cast<double>(n) * static_cast<double>(heads) * static_cast<double>(dim) +
      8.0 * static_cast<double>(n + 1);
  const std::string what =
      cat(job, " N=", n, " H=", heads, " D=", dim, " (", buffers, " node buffers and the row offsets)");
  if (bytes > 4e18) throw Error(cat("not enough memory: ", what, " needs about ", bytes, " bytes"));
  require_memory(static_cast<std::int64_t>(bytes), what);
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

void print_stage(const char* name, double ms) {
  std::printf("  %-14s %10.3f ms\n", name, ms);
}

}  // namespace diffuser::cli
