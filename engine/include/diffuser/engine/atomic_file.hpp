// Output files written all or nothing: the data goes to a new temporary file next to the target
// and is renamed onto it on commit(), so a failed or interrupted run never leaves a partial output.
// Temporary files are created with O_CREAT | O_EXCL | O_NOFOLLOW under unpredictable names, so a
// file or symlink planted at a guessable name is never written through.
#pragma once

#include <filesystem>
#include <memory>
#include <ostream>

namespace diffuser {

// Whoever must know about temporary files and folders: the CLI installs hooks that record them so
// its signal handler can remove them (tools/diffuser/cleanup.hpp). The library keeps no list of
// its own; with no hooks installed nothing is announced. Install them once, before any file is
// written; the functions are called from the thread that creates or releases the path.
struct TempPathHooks {
  void (*created)(const char* path, bool folder) = nullptr;  // the path now exists and is ours
  void (*released)(const char* path) = nullptr;              // renamed into place or removed
};
void set_temp_path_hooks(TempPathHooks hooks);
void announce_temp_path(const std::filesystem::path& path, bool folder);
void release_temp_path(const std::filesystem::path& path);

// A new, empty file in the folder of `target`, named "<target name>.tmp-<16 random hex digits>",
// opened for writing with O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC (mode 0666 less the umask) and
// announced through the hooks. Throws Error naming `target`, never the temporary name.
struct TempFile {
  int fd = -1;
  std::filesystem::path path;
};
TempFile create_temp_file_for(const std::filesystem::path& target);

class AtomicOutput {
 public:
  // Creates the temporary file (create_temp_file_for); throws Error naming `path` if that fails.
  explicit AtomicOutput(std::filesystem::path path, bool binary = true);
  ~AtomicOutput();  // removes the temporary file unless commit() succeeded
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  std::ostream& stream() { return *out_; }
  const std::filesystem::path& path() const { return path_; }
  // Flushes, checks for write errors and renames onto the target path; throws Error naming the
  // target on failure.
  void commit();

 private:
  class FdBuf;
  std::filesystem::path path_, tmp_;
  std::unique_ptr<FdBuf> buf_;
  std::unique_ptr<std::ostream> out_;
  bool committed_ = false;
};

}  // namespace diffuser
