// Runs a pattern plugin in a child process: the child loads the library (dlopen), checks its ABI
// version, calls its build function and sends the edges back through a pipe (plugin_frames.hpp);
// the parent decodes and checks them. Whatever the plugin does (crash, abort, exit, hang, corrupt
// its memory, leave threads behind), diffuser ends with a one-line error naming the plugin.
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <diffuser/graphs/plugin.h>
#include <diffuser/engine/error.hpp>
#include <diffuser/graphs/plugin_loader.hpp>

#include "plugin_frames.hpp"

namespace diffuser::graphs {

namespace {

using detail::Frame;
using detail::make_frame;

// ---- the child ---------------------------------------------------------------------------------

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t w = ::write(fd, bytes.data(), bytes.size());
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) ::_exit(3);  // the parent is gone: nothing left to report to
    bytes.remove_prefix(static_cast<std::size_t>(w));
  }
}

[[noreturn]] void child_report(int fd, Frame type, std::string_view payload) {
  write_all(fd, make_frame(type, payload));
  ::_exit(0);
}

// What emit writes into, in the child.
struct ChildSink {
  int fd = -1;
  std::int64_t n = 0;
  std::int64_t emitted = 0;
  std::vector<std::int32_t> copy;  // the batch, copied out of the plugin's memory
};

// Copies `bytes` from the plugin's buffer with process_vm_readv, which fails cleanly (EFAULT)
// where a plain read would crash: an emit count larger than the buffer it describes runs off
// the mapped memory. Where the system forbids the call, a plain copy (a crash is still contained).
bool copy_checked(void* dst, const void* src, std::size_t bytes) {
  iovec local{dst, bytes};
  iovec remote{const_cast<void*>(src), bytes};
  const ssize_t got = ::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0);
  if (got == static_cast<ssize_t>(bytes)) return true;
  if (got < 0 && (errno == ENOSYS || errno == EPERM)) {
    std::memcpy(dst, src, bytes);
    return true;
  }
  return false;
}

int child_emit(void* sink_ptr, const std::int32_t* pairs, std::int64_t count) noexcept {
  auto& sink = *static_cast<ChildSink*>(sink_ptr);
  if (count < 0 || (count > 0 && !pairs))
    child_report(
        sink.fd, Frame::error,
        cat("emit called with a bad batch (", count, " pairs at ", static_cast<const void*>(pairs), ")"));
  for (std::int64_t base = 0; base < count;) {
    const auto chunk = static_cast<std::size_t>(std::min<std::int64_t>(count - base, detail::kMaxFramePairs));
    sink.copy.resize(2 * chunk);
    if (!copy_checked(sink.copy.data(), pairs + 2 * base, 8 * chunk))
      child_report(sink.fd, Frame::error,
                   cat("emit was given ", count, " pairs at ", static_cast<const void*>(pairs),
                       " but the plugin's memory ends before pair ", base + static_cast<std::int64_t>(chunk),
                       " (a count larger than its buffer?)"));
    // Check the batch before sending it, so the report names the first bad edge.
    for (std::size_t e = 0; e < chunk; ++e) {
      const std::int32_t s = sink.copy[2 * e], d = sink.copy[2 * e + 1];
      if (s < 0 || s >= sink.n || d < 0 || d >= sink.n)
        child_report(sink.fd, Frame::error,
                     cat("emitted edge ", sink.emitted + base + static_cast<std::int64_t>(e), " (", s, " -> ",
                         d, ") has an endpoint outside [0, ", sink.n, ")"));
    }
    write_all(sink.fd,
              make_frame(Frame::edges,
                         std::string_view(reinterpret_cast<const char*>(sink.copy.data()), 8 * chunk)));
    base += static_cast<std::int64_t>(chunk);
  }
  sink.emitted += count;
  return 0;
}

[[noreturn]] void child_main(int fd, const std::string& path, const std::string& args, std::int64_t n,
                             std::uint64_t seed) {
  ::dlerror();
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    child_report(fd, Frame::error, cat("cannot load: ", why ? why : "unknown dlopen error"));
  }
  const auto symbol = [&](const char* name) {
    ::dlerror();
    void* p = ::dlsym(handle, name);
    if (!p) {
      const char* why = ::dlerror();
      child_report(
          fd, Frame::error,
          cat("missing symbol ", name, " (not a diffuser plugin?)", why ? cat(": ", why) : std::string()));
    }
    return p;
  };
  auto version = reinterpret_cast<diffuser_plugin_abi_version_fn>(symbol(DIFFUSER_PLUGIN_VERSION_SYMBOL));
  const std::uint32_t v = version();
  if (v != DIFFUSER_PLUGIN_ABI_VERSION)
    child_report(fd, Frame::error,
                 cat("built for ABI v", v, ", this diffuser speaks v", DIFFUSER_PLUGIN_ABI_VERSION,
                     " (rebuild it against this diffuser's plugin.h)"));
  auto build = reinterpret_cast<diffuser_plugin_build_fn>(symbol(DIFFUSER_PLUGIN_BUILD_SYMBOL));
  write_all(fd, make_frame(Frame::loaded, {}));

  ChildSink sink;
  sink.fd = fd;
  sink.n = n;
  char message[1024] = {};
  const int rc = build(n, seed, args.c_str(), &child_emit, &sink, message, sizeof message);
  message[sizeof message - 1] = '\0';  // in case the plugin forgot the terminator
  if (rc == 0) child_report(fd, Frame::done, {});
  std::string payload(4, '\0');
  std::memcpy(payload.data(), &rc, 4);
  payload += message;
  child_report(fd, Frame::failed, payload);
}

// In the child, before anything else: default signal actions (the parent's handlers would
// clean up the parent's files), death with the parent, and no way to read its stdin.
void child_setup(pid_t parent) {
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction old {};
    if (sig == SIGKILL || sig == SIGSTOP || ::sigaction(sig, nullptr, &old) != 0) continue;
    if (old.sa_handler != SIG_IGN || sig == SIGPIPE) std::signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(3);  // the parent died before prctl took effect
  const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null >= 0) ::dup2(null, 0);
}

// ---- the parent --------------------------------------------------------------------------------

std::string describe_signal(int sig) {
  const char* name = sig == SIGSEGV   ? "SIGSEGV"
                     : sig == SIGABRT ? "SIGABRT"
                     : sig == SIGFPE  ? "SIGFPE"
                     : sig == SIGBUS  ? "SIGBUS"
                     : sig == SIGILL  ? "SIGILL"
                     : sig == SIGKILL ? "SIGKILL"
                     : sig == SIGTERM ? "SIGTERM"
                                      : nullptr;
  const char* what = ::strsignal(sig);
  return name ? cat(name, " (", what ? what : "?", ")") : cat("signal ", sig, " (", what ? what : "?", ")");
}

// Kills and reaps the child on every way out of plugin_edges.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() { stop(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  // Kills it (if still running) and returns its wait status.
  int stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      reap();
    }
    return status_;
  }
  // Waits for it to end by itself; returns its wait status.
  int reap() {
    while (pid_ > 0 && ::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

}  // namespace

EdgeList plugin_edges(const std::filesystem::path& library, std::string_view args, std::int64_t n,
                      std::uint64_t seed, const PluginOptions& options) {
  const std::string path = library.string();
  if (n < 1 || n > kMaxNodes)
    throw UsageError(cat("plugin ", path, ": the number of tokens must be in [1, ", kMaxNodes, "], got ", n));
  const std::string arg_text(args);  // the child's NUL-terminated copy
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw Error(cat("plugin ", path, ": cannot create a pipe: ", std::strerror(errno)));
  Fd read_end(fds[0]), write_end(fds[1]);
  const pid_t parent = ::getpid();
  std::fflush(nullptr);  // else the child could write the parent's buffered output a second time
  const pid_t pid = ::fork();
  if (pid < 0) throw Error(cat("plugin ", path, ": cannot start a process for it: ", std::strerror(errno)));
  if (pid == 0) {
    child_setup(parent);
    ::close(fds[0]);
    child_main(fds[1], path, arg_text, n, seed);
  }
  Child child(pid);
  write_end.reset();

  EdgeList edges;
  edges.n = n;
  detail::FrameDecoder decoder(path, n, edges);
  std::vector<char> buf(1 << 16);
  const auto idle_ms = static_cast<int>(std::min(options.idle_timeout_s * 1000.0, 2e9));
  while (!decoder.done() && decoder.report().empty()) {
    pollfd p{read_end.get(), POLLIN, 0};
    const int ready = ::poll(&p, 1, idle_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0)
      throw Error(cat("plugin ", path, " did not finish: no edges and no result for ", options.idle_timeout_s,
                      " s (a hang?); it was stopped"));
    const ssize_t got = ::read(read_end.get(), buf.data(), buf.size());
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // the child closed the pipe: it ended
    decoder.feed(std::string_view(buf.data(), static_cast<std::size_t>(got)));
  }
  if (decoder.done()) {
    child.stop();  // threads the plugin left running end with its process
    return edges;
  }
  if (!decoder.report().empty()) {
    child.stop();
    if (decoder.plugin_failed()) throw Error(cat("plugin ", path, " failed: ", decoder.report()));
    throw Error(cat("plugin ", path, ": ", decoder.report()));
  }
  const int status = child.reap();
  const char* when = decoder.loaded() ? "in diffuser_plugin_build" : "while loading (in a constructor?)";
  if (WIFSIGNALED(status))
    throw Error(cat("plugin ", path, " crashed ", when, ": ", describe_signal(WTERMSIG(status))));
  throw Error(cat("plugin ", path, " ended its process with exit status ",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1, " ", when,
                  " without returning (plugins must return, not exit)"));
}

}  // namespace diffuser::graphs
