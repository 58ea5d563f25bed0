// The frames of plugin_frames.hpp: encoding (child) and checked decoding (parent).
#include <cstring>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>

#include "plugin_frames.hpp"

namespace diffuser::graphs::detail {

std::string make_frame(Frame type, std::string_view payload) {
  std::string f(kFrameHeader, '\0');
  f[0] = static_cast<char>(type);
  const std::uint64_t len = payload.size();
  for (int i = 0; i < 8; ++i) f[static_cast<std::size_t>(1 + i)] = static_cast<char>((len >> (8 * i)) & 0xff);
  f.append(payload);
  return f;
}

void FrameDecoder::feed(std::string_view bytes) {
  pending_.append(bytes);
  std::size_t at = 0;
  while (pending_.size() - at >= kFrameHeader) {
    const auto type = static_cast<Frame>(pending_[at]);
    std::uint64_t len = 0;
    for (int i = 7; i >= 0; --i)
      len = (len << 8) | static_cast<unsigned char>(pending_[at + 1 + static_cast<std::size_t>(i)]);
    const bool known = type == Frame::loaded || type == Frame::edges || type == Frame::done ||
                       type == Frame::failed || type == Frame::error;
    if (!known)
      throw Error(cat("plugin ", plugin_, ": garbled output from the plugin's process (frame type ",
                      static_cast<int>(static_cast<unsigned char>(pending_[at])), ")"));
    const std::uint64_t limit = type == Frame::edges                              ? 8 * kMaxFramePairs
                                : (type == Frame::failed || type == Frame::error) ? kMaxFrameMessage + 4
                                                                                  : 0;
    if (len > limit || (type == Frame::edges && len % 8 != 0))
      throw Error(
          cat("plugin ", plugin_, ": garbled output from the plugin's process (a frame of ", len, " bytes)"));
    if (pending_.size() - at - kFrameHeader < len) break;
    frame(type, std::string_view(pending_).substr(at + kFrameHeader, static_cast<std::size_t>(len)));
    at += kFrameHeader + static_cast<std::size_t>(len);
  }
  pending_.erase(0, at);
}

void FrameDecoder::frame(Frame type, std::string_view payload) {
  if (done_ || !report_.empty())
    throw Error(
        cat("plugin ", plugin_, ": garbled output from the plugin's process (data after its result)"));
  switch (type) {
    case Frame::loaded:
      loaded_ = true;
      return;
    case Frame::done:
      done_ = true;
      return;
    case Frame::error:
      report_ = excerpt(payload, kMaxFrameMessage);
      if (report_.empty()) report_ = "(no message)";
      return;
    case Frame::failed: {
      if (payload.size() < 4)
        throw Error(cat("plugin ", plugin_, ": garbled output from the plugin's process (a failure frame)"));
      std::int32_t rc = 0;
      std::memcpy(&rc, payload.data(), 4);
      // One printable line whatever the plugin wrote.
      report_ =
          payload.size() > 4 ? excerpt(payload.substr(4), 1024) : cat("returned ", rc, " without a message");
      failed_ = true;
      return;
    }
    case Frame::edges: {
      if (!loaded_)
        throw Error(
            cat("plugin ", plugin_, ": garbled output from the plugin's process (edges before loading)"));
      const std::size_t count = payload.size() / 8;
      const std::size_t old = edges_.src.size();
      if (old + count > edges_.src.capacity()) {
        const double want = 2.0 * static_cast<double>(old + count);
        require_memory(16.0 * want,
                       cat("plugin ", plugin_, ": the ", old + count, " edges it emitted so far"));
        edges_.src.reserve(static_cast<std::size_t>(want));
        edges_.dst.reserve(static_cast<std::size_t>(want));
      }
      for (std::size_t e = 0; e < count; ++e) {
        std::int32_t s = 0, d = 0;
        std::memcpy(&s, payload.data() + 8 * e, 4);
        std::memcpy(&d, payload.data() + 8 * e + 4, 4);
        if (s < 0 || s >= n_ || d < 0 || d >= n_)
          throw Error(cat("plugin ", plugin_, ": emitted edge ", old + e, " (", s, " -> ", d,
                          ") has an endpoint outside [0, ", n_, ")"));
        edges_.src.push_back(s);
        edges_.dst.push_back(d);
      }
      return;
    }
  }
}

}  // namespace diffuser::graphs::detail
