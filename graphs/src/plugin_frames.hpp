// Private to graphs/: what a plugin's child process sends its parent through a pipe. The parent
// trusts none of it: the decoder checks every frame's type and length and every id, so a plugin
// that corrupts its own memory can at worst be reported, never crash or mislead diffuser.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <diffuser/engine/csr.hpp>

namespace diffuser::graphs::detail {

// A frame: one type byte, an 8-byte little-endian payload length, the payload.
enum class Frame : char {
  loaded = 'L',  // the library loaded and its ABI version matched (no payload)
  edges = 'E',   // count (src, dst) int32 pairs
  done = 'D',    // diffuser_plugin_build returned 0 (no payload)
  failed = 'F',  // it returned nonzero: int32 return code, then its message
  error = 'X',   // the child's own report (cannot load, bad emit, ...): a message
};

inline constexpr std::size_t kFrameHeader = 9;
inline constexpr std::uint64_t kMaxFramePairs = std::uint64_t{1} << 20;  // per edges frame
inline constexpr std::uint64_t kMaxFrameMessage = 4096;

// Builds a frame (the child side).
std::string make_frame(Frame type, std::string_view payload);

// Parent side: feed() the bytes as they arrive; edges go into `edges` (ids checked against n,
// the memory budget checked before the list grows). Every problem is an Error whose message
// `plugin` prefixes ("plugin ./libx.so: ...").
class FrameDecoder {
 public:
  FrameDecoder(std::string plugin, std::int64_t n, EdgeList& edges)
      : plugin_(std::move(plugin)), n_(n), edges_(edges) {}
  void feed(std::string_view bytes);
  bool loaded() const { return loaded_; }
  bool done() const { return done_; }
  // A result the plugin or the child reported: failed/error frames (empty if none).
  const std::string& report() const { return report_; }
  bool plugin_failed() const { return failed_; }
  // True when bytes of an unfinished frame are pending.
  bool partial() const { return !pending_.empty(); }

 private:
  void frame(Frame type, std::string_view payload);
  std::string plugin_;
  std::int64_t n_;
  EdgeList& edges_;
  std::string pending_;
  bool loaded_ = false, done_ = false, failed_ = false;
  std::string report_;
};

}  // namespace diffuser::graphs::detail
