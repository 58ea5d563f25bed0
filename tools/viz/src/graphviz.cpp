#include <diffuser/viz/graphviz.hpp>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <system_error>
#include <vector>

#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/error.hpp>

#include <diffuser/viz/canvas.hpp>
#include <diffuser/viz/charts.hpp>

namespace diffuser::viz {

namespace fs = std::filesystem;

Layout parse_layout(const std::string& name) {
  if (name == "circle") return Layout::circle;
  if (name == "neato") return Layout::neato;
  if (name == "dot") return Layout::dot;
  throw UsageError(cat("--layout: unknown layout '", name, "' (expected circle, neato or dot)"));
}

std::string node_link_dot(const Csr& g, const std::string& title, Layout layout) {
  const std::int64_t n = g.num_nodes();
  std::int64_t max_deg = 1, self = 0;
  for (std::int64_t i = 0; i < n; ++i) max_deg = std::max(max_deg, g.degree(i));
  std::string s = "digraph tokens {\n";
  s += "  graph [bgcolor=\"white\", fontname=\"DejaVu Sans\", fontsize=16, labelloc=t, "
       "outputorder=edgesfirst, pad=0.3";
  // No splines=true: with overlap=false it crashes Debian's Graphviz 2.43 (free(): invalid next
  // size) on graphs as small as the docs' example; straight edges are drawn instead.
  if (layout == Layout::neato) s += ", overlap=false";
  if (layout == Layout::dot) s += ", rankdir=LR";
  s += "];\n";
  s +=
      "  node [shape=circle, style=filled, fixedsize=true, width=0.34, fontname=\"DejaVu Sans\", fontsize=9, "
      "penwidth=0.6, color=\"#495057\"];\n";
  s += "  edge [arrowsize=0.45, penwidth=0.7, color=\"#1f4e7988\"];\n";
  const double radius = std::max(120.0, 14.0 * static_cast<double>(n) / (2 * M_PI));
  for (std::int64_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(g.degree(i)) / static_cast<double>(max_deg);
    const Rgb fill = viridis(0.25 + 0.75 * t);
    const bool dark = t < 0.55;
    s += cat("  ", i, " [fillcolor=\"", hex(fill), "\", fontcolor=\"", dark ? "white" : "black", "\"");
    if (layout == Layout::circle) {
      // Clockwise from the top, in points (neato -n2 takes them as given).
      const double a = M_PI / 2 - 2 * M_PI * static_cast<double>(i) / static_cast<double>(n);
      char pos[64];
      std::snprintf(pos, sizeof pos, "%.1f,%.1f", radius + radius * std::cos(a),
                    radius + radius * std::sin(a));
      s += cat(", pos=\"", pos, "\"");
    }
    s += "];\n";
  }
  for (std::int64_t i = 0; i < n; ++i)
    for (const std::int32_t j : g.neighbors(i)) {
      if (j == i) {
        ++self;
        continue;
      }
      s += cat("  ", j, " -> ", i, ";\n");
    }
  s += cat("  label=\"", title, "\\n", n, " tokens, ", g.num_edges(), " edges j -> i (token i attends to j)",
           self ? cat(", ", self, " self loops not drawn") : std::string(), "; colour: in-degree\";\n");
  s += "}\n";
  return s;
}

bool render_graphviz(const std::string& dot_text, Layout layout, const fs::path& out) {
  const std::string ext = out.extension().string();
  const std::string format = ext == ".png" ? "png" : (ext == ".pdf" ? "pdf" : "svg");
  const std::string program = layout == Layout::dot ? "dot" : "neato";
  // Exclusive, unpredictable temporary names next to the output, removed on a signal too.
  const TempFile dot_file = create_temp_file_for(out), out_file = create_temp_file_for(out);
  ::close(out_file.fd);
  const fs::path tmp_dot = dot_file.path, tmp_out = out_file.path;
  struct Cleanup {
    fs::path a, b;
    ~Cleanup() {
      std::error_code ec;
      fs::remove(a, ec);
      fs::remove(b, ec);
      release_temp_path(a);
      release_temp_path(b);
    }
  } cleanup{tmp_dot, tmp_out};
  {
    std::FILE* f = ::fdopen(dot_file.fd, "wb");
    if (!f) ::close(dot_file.fd);
    const bool written = f && std::fwrite(dot_text.data(), 1, dot_text.size(), f) == dot_text.size();
    if (!f || std::fclose(f) != 0 || !written)
      throw Error(cat(out.string(), ": cannot write the temporary DOT file next to it"));
  }
  std::vector<std::string> argv_s{program, "-T" + format};
  if (layout == Layout::circle) argv_s.push_back("-n2");
  argv_s.insert(argv_s.end(), {"-o", tmp_out.string(), tmp_dot.string()});
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  // GraphViz's messages go to a temporary file, quoted when it fails.
  const TempFile err_file = create_temp_file_for(out);
  struct CloseRemove {
    TempFile f;
    ~CloseRemove() {
      ::close(f.fd);
      std::error_code ec;
      fs::remove(f.path, ec);
      release_temp_path(f.path);
    }
  } err_cleanup{err_file};
  // fork + exec rather than posix_spawn: the child asks to be killed when diffuser dies, so a
  // killed `viz` leaves no dot/neato behind. Only async-signal-safe calls in the child.
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw Error(cat("cannot run GraphViz '", program, "': ", std::strerror(errno)));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    const int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
      ::dup2(null, STDIN_FILENO);
      ::dup2(null, STDOUT_FILENO);
    }
    ::dup2(err_file.fd, STDERR_FILENO);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  // exec failing (127): GraphViz is not installed.
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) return false;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !fs::exists(tmp_out)) {
    std::ifstream in(err_file.path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    const auto last = text.rfind('\n');
    const std::string said = last == std::string::npos ? text : text.substr(last + 1);
    const std::string how = WIFSIGNALED(status) ? cat("killed by signal ", WTERMSIG(status))
                                                : cat("exit status ", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    throw Error(cat("GraphViz '", program, "' failed to draw ", out.string(), " (", how, ")",
                    said.empty() ? std::string() : cat(": ", excerpt(said, 200))));
  }
  std::error_code ec;
  fs::rename(tmp_out, out, ec);
  if (ec) throw Error(cat(out.string(), ": cannot move the finished file into place: ", ec.message()));
  return true;
}

std::optional<std::string> render_graphviz_bytes(const std::string& dot_text, Layout layout, Format format) {
  // GraphViz writes files: a private temporary folder holds the one it draws.
  std::string dir_template = (fs::temp_directory_path() / "diffuser-viz-XXXXXX").string();
  if (!::mkdtemp(dir_template.data()))
    throw Error(cat("cannot create a temporary folder for GraphViz: ", std::strerror(errno)));
  const fs::path dir = dir_template;
  struct RemoveDir {
    fs::path p;
    ~RemoveDir() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{dir};
  const fs::path out = dir / (std::string("drawing.") + format_name(format));
  if (!render_graphviz(dot_text, layout, out)) return std::nullopt;
  std::ifstream f(out, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (!f && !f.eof()) throw Error(cat("cannot read GraphViz's drawing back from ", out.string()));
  return bytes;
}

}  // namespace diffuser::viz
