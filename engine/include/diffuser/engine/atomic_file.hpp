// Writes a file under a temporary name next to the target and renames it on commit(), so a failed
// run never leaves a partial output file behind.
#pragma once

#include <filesystem>
#include <fstream>

namespace diffuser {

class AtomicOutput {
 public:
  // Opens "<path>.tmp-<pid>" for writing; throws Error naming `path` if that fails.
  explicit AtomicOutput(std::filesystem::path path, bool binary = true);
  ~AtomicOutput();  // removes the temporary file unless commit() succeeded
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  std::ostream& stream() { return out_; }
  const std::filesystem::path& path() const { return path_; }
  // Flushes, checks for write errors and renames onto the target path; throws Error on failure.
  void commit();

 private:
  std::filesystem::path path_, tmp_;
  std::ofstream out_;
  bool committed_ = false;
};

}  // namespace diffuser
