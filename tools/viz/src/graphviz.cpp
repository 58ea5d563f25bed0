#include <diffuser/viz/graphviz.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
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

extern char** environ;

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
  if (layout == Layout::neato) s += ", overlap=false, splines=true";
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
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc == ENOENT) return false;
  if (rc != 0) throw Error(cat("cannot run GraphViz '", program, "': ", std::strerror(rc)));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  // posix_spawnp may report a missing program through the child's exit status 127.
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) return false;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !fs::exists(tmp_out))
    throw Error(cat("GraphViz '", program, "' failed to draw ", out.string(), " (exit status ",
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1, ")"));
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
