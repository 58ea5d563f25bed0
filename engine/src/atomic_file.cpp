#include <system_error>

#include <unistd.h>

#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/error.hpp>

namespace diffuser {

AtomicOutput::AtomicOutput(std::filesystem::path path, bool binary) : path_(std::move(path)) {
  tmp_ = path_;
  tmp_ += cat(".tmp-", ::getpid());
  out_.open(tmp_, binary ? std::ios::binary | std::ios::trunc : std::ios::trunc);
  if (!out_) throw Error(cat(path_.string(), ": cannot open for writing"));
}

AtomicOutput::~AtomicOutput() {
  if (!committed_) {
    out_.close();
    std::error_code ec;
    std::filesystem::remove(tmp_, ec);
  }
}

void AtomicOutput::commit() {
  out_.flush();
  const bool ok = static_cast<bool>(out_);
  out_.close();
  if (!ok || out_.fail()) throw Error(cat(path_.string(), ": write failed (disk full?)"));
  std::error_code ec;
  std::filesystem::rename(tmp_, path_, ec);
  if (ec) throw Error(cat(path_.string(), ": cannot rename the finished file into place: ", ec.message()));
  committed_ = true;
}

}  // namespace diffuser
