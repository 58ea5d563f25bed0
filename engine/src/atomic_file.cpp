// Atomic output files: unpredictable temporary names created exclusively, a plain write(2) buffer
// (so every error has an errno to report), rename onto the target on commit.
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <streambuf>
#include <system_error>

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/error.hpp>

namespace diffuser {

namespace fs = std::filesystem;

namespace {

// Set once by the program before any file is written (see TempPathHooks).
TempPathHooks g_hooks;

std::string random_suffix() {
  std::array<unsigned char, 8> bytes{};
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t r = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw Error(cat("cannot draw a random temporary file name: ", std::strerror(errno)));
    }
    got += static_cast<std::size_t>(r);
  }
  std::string out;
  char buf[3];
  for (unsigned char b : bytes) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

}  // namespace

void set_temp_path_hooks(TempPathHooks hooks) {
  g_hooks = hooks;
}

void announce_temp_path(const fs::path& path, bool folder) {
  if (g_hooks.created) g_hooks.created(path.c_str(), folder);
}

void release_temp_path(const fs::path& path) {
  if (g_hooks.released) g_hooks.released(path.c_str());
}

TempFile create_temp_file_for(const fs::path& target) {
  const fs::path dir = target.parent_path();
  const std::string name = target.filename().string();
  if (name.empty()) throw Error(cat(target.string(), ": not a file name"));
  for (int attempt = 0; attempt < 64; ++attempt) {
    fs::path tmp = dir / cat(name, ".tmp-", random_suffix());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0) {
      announce_temp_path(tmp, false);
      return {fd, std::move(tmp)};
    }
    if (errno != EEXIST)
      throw Error(cat(target.string(), ": cannot open for writing: ", std::strerror(errno)));
  }
  throw Error(cat(target.string(), ": cannot create a temporary file next to it (64 names taken)"));
}

// An output stream buffer over a file descriptor that remembers the first write error.
class AtomicOutput::FdBuf final : public std::streambuf {
 public:
  explicit FdBuf(int fd) : fd_(fd) { setp(buf_.data(), buf_.data() + buf_.size()); }
  ~FdBuf() override { close_fd(); }
  int error() const { return error_; }
  // Flushes and closes; false (with error()) on failure.
  bool finish() {
    const bool flushed = drain();
    if (fd_ >= 0 && ::close(fd_) != 0 && error_ == 0) error_ = errno;
    fd_ = -1;
    return flushed && error_ == 0;
  }
  void close_fd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 protected:
  int_type overflow(int_type ch) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  std::streamsize xsputn(const char* s, std::streamsize count) override {
    if (count >= static_cast<std::streamsize>(buf_.size())) {  // large blocks go straight out
      if (!drain() || !write_all(s, static_cast<std::size_t>(count))) return 0;
      return count;
    }
    return std::streambuf::xsputn(s, count);
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  bool drain() {
    const auto pending = static_cast<std::size_t>(pptr() - pbase());
    const bool ok = pending == 0 || write_all(pbase(), pending);
    setp(buf_.data(), buf_.data() + buf_.size());
    return ok;
  }
  bool write_all(const char* p, std::size_t n) {
    if (error_ != 0 || fd_ < 0) return false;
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        error_ = errno;
        return false;
      }
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return true;
  }
  int fd_ = -1;
  int error_ = 0;
  std::array<char, 1 << 16> buf_{};
};

AtomicOutput::AtomicOutput(fs::path path, bool /*binary: POSIX files make no difference*/)
    : path_(std::move(path)) {
  TempFile t = create_temp_file_for(path_);
  tmp_ = std::move(t.path);
  buf_ = std::make_unique<FdBuf>(t.fd);
  out_ = std::make_unique<std::ostream>(buf_.get());
}

AtomicOutput::~AtomicOutput() {
  if (committed_) return;
  buf_->close_fd();
  ::unlink(tmp_.c_str());
  release_temp_path(tmp_);
}

void AtomicOutput::commit() {
  out_->flush();
  const bool ok = static_cast<bool>(*out_) && buf_->finish();
  if (!ok)
    throw Error(cat(path_.string(), ": write failed: ",
                    buf_->error() ? std::strerror(buf_->error()) : "stream error", " (disk full?)"));
  if (::rename(tmp_.c_str(), path_.c_str()) != 0)
    throw Error(cat(path_.string(), ": cannot rename the finished file into place: ", std::strerror(errno)));
  committed_ = true;
  release_temp_path(tmp_);
}

}  // namespace diffuser
