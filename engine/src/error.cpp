#include <cstdio>
#include <cstdlib>

#include <diffuser/engine/error.hpp>

namespace diffuser {

void assertion_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "diffuser: internal error: assertion '%s' failed at %s:%d\n", expr, file, line);
  std::abort();
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i] (2-4), or 0 if there is none.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  unsigned min = 0;
  if (b >= 0xc2 && b <= 0xdf) {
    len = 2;
    min = 0x80;
  } else if (b >= 0xe0 && b <= 0xef) {
    len = 3;
    min = 0x800;
  } else if (b >= 0xf0 && b <= 0xf4) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  unsigned cp = b & (0xff >> (len + 1));
  for (std::size_t k = 1; k < len; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3f);
  }
  // Overlong forms, surrogates and code points past U+10FFFF are not valid UTF-8; the C1 controls
  // (U+0080..U+009F) are valid but a terminal may obey them, so they are escaped too.
  if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || cp < 0xa0) return 0;
  return len;
}

}  // namespace

std::string excerpt(std::string_view text, std::size_t max_bytes) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size() && i < max_bytes) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (const std::size_t len = utf8_sequence(text, i); len > 0) {
      out.append(text.substr(i, len));
      i += len;
      continue;
    }
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
    ++i;
  }
  if (i < text.size()) out += cat("... (", text.size(), " bytes)");
  return out;
}

std::string one_line(std::string_view message) {
  return excerpt(join_lines(message), std::string::npos);
}

std::string join_lines(std::string_view message) {
  // A run of blanks that holds a line break (or tab) becomes one space; plain spaces stay as they
  // are, so a file name with two spaces in a row is still quoted exactly.
  std::string out;
  std::size_t i = 0;
  while (i < message.size()) {
    std::size_t j = i;
    bool control = false;
    while (j < message.size() &&
           (message[j] == ' ' || message[j] == '\n' || message[j] == '\r' || message[j] == '\t')) {
      control = control || message[j] != ' ';
      ++j;
    }
    if (j > i) {
      if (j == message.size()) break;  // trailing blanks
      if (control) {
        out.push_back(' ');
      } else {
        out.append(message.substr(i, j - i));
      }
      i = j;
      continue;
    }
    out.push_back(message[i++]);
  }
  return out;
}

}  // namespace diffuser
