#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <type_traits>
#include <vector>

#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/npy.hpp>
#include <diffuser/engine/sys.hpp>

namespace diffuser::npy {

namespace {

constexpr char kMagic[] = "\x93NUMPY";

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw Error(cat(name, ": ", what));
}

// The header dict NumPy writes, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", read
// as the Python literal it is, strictly: exactly the keys descr, fortran_order and shape, each once
// (NumPy's loader refuses other keys; a repeated key is refused too, as ambiguous), then only
// the padding (spaces, a final newline).
class DictParser {
 public:
  DictParser(std::string_view text, const std::string& name) : t_(text), name_(name) {}

  Header parse() {
    Header h;
    bool have[3] = {false, false, false};
    skip_ws();
    expect('{');
    while (true) {
      skip_ws();
      if (peek() == '}') break;
      const std::string key = quoted("a key");
      int k = key == "descr" ? 0 : key == "fortran_order" ? 1 : key == "shape" ? 2 : -1;
      if (k < 0)
        bad(cat("unexpected key '", excerpt(key),
                "' (a .npy header holds only descr, fortran_order and shape)"));
      if (have[k]) bad(cat("the key '", key, "' appears twice"));
      have[k] = true;
      skip_ws();
      expect(':');
      skip_ws();
      if (k == 0) {
        h.dtype = parse_descr(quoted("the descr string"));
      } else if (k == 1) {
        if (word("True")) bad("Fortran-ordered arrays are not supported (save with np.ascontiguousarray)");
        if (!word("False"))
          bad(cat("fortran_order must be True or False, found '", excerpt(rest(), 16), "'"));
      } else {
        h.shape = tuple();
      }
      skip_ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() != '}')
        bad(cat("expected ',' or '}' after the value of '", key, "', found '", excerpt(rest(), 16), "'"));
    }
    expect('}');
    for (std::size_t j = i_; j < t_.size(); ++j)
      if (t_[j] != ' ' && t_[j] != '\n' && t_[j] != '\t' && t_[j] != '\r' && t_[j] != '\0')
        bad(cat("unexpected text after the header dict: '", excerpt(t_.substr(j), 16), "'"));
    const char* names[3] = {"descr", "fortran_order", "shape"};
    for (int k = 0; k < 3; ++k)
      if (!have[k]) bad(cat("npy header has no '", names[k], "' entry: ", excerpt(t_, 80)));
    return h;
  }

 private:
  [[noreturn]] void bad(const std::string& what) const { fail(name_, cat("malformed npy header: ", what)); }
  char peek() const { return i_ < t_.size() ? t_[i_] : '\0'; }
  std::string_view rest() const { return t_.substr(std::min(i_, t_.size())); }
  void skip_ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    if (peek() != c) bad(cat("expected '", c, "', found '", excerpt(rest(), 16), "'"));
    ++i_;
  }
  bool word(std::string_view w) {
    if (rest().substr(0, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  std::string quoted(const char* what) {
    const char q = peek();
    if (q != '\'' && q != '"') bad(cat("expected ", what, " in quotes, found '", excerpt(rest(), 16), "'"));
    const auto end = t_.find(q, i_ + 1);
    if (end == std::string_view::npos) bad(cat("unterminated string in ", excerpt(t_, 80)));
    std::string s(t_.substr(i_ + 1, end - i_ - 1));
    if (s.find('\\') != std::string::npos) bad(cat("escapes are not supported in '", excerpt(s), "'"));
    i_ = end + 1;
    return s;
  }
  std::vector<std::int64_t> tuple() {
    if (peek() != '(')
      bad(cat("shape must be a tuple such as (3, 4) or (3,), found '", excerpt(rest(), 16), "'"));
    ++i_;
    std::vector<std::int64_t> shape;
    bool trailing_comma = false;
    while (true) {
      skip_ws();
      if (peek() == ')') break;
      const std::size_t start = i_;
      while (i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '9') ++i_;
      const std::string_view digits = t_.substr(start, i_ - start);
      std::int64_t v = 0;
      const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
      if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size()) {
        while (i_ < t_.size() && t_[i_] != ',' && t_[i_] != ')') ++i_;
        bad(cat("bad dimension '", excerpt(t_.substr(start, i_ - start), 24), "' in the shape"));
      }
      if (peek() == 'L') ++i_;  // Python 2 long literals
      if (shape.size() >= kMaxDims) bad(cat("the shape has more than ", kMaxDims, " dimensions"));
      shape.push_back(v);
      skip_ws();
      trailing_comma = false;
      if (peek() == ',') {
        ++i_;
        trailing_comma = true;
        continue;
      }
      if (peek() != ')') bad(cat("expected ',' or ')' in the shape, found '", excerpt(rest(), 16), "'"));
    }
    ++i_;
    if (shape.size() == 1 && !trailing_comma) bad("a one-dimensional shape is written (N,), with the comma");
    return shape;
  }

  DType parse_descr(const std::string& d) const {
    if (d.size() == 3 && d[0] == '>' && d[2] != '1')
      fail(name_, cat("big-endian dtype '", excerpt(d),
                      "' is not supported (save little-endian: arr.astype('<", excerpt(d.substr(1)), "'))"));
    const std::string t = d.size() == 3 && (d[0] == '<' || d[0] == '|' || d[0] == '=') ? d.substr(1) : d;
    if (t == "f4") return DType::f4;
    if (t == "f8") return DType::f8;
    if (t == "i4") return DType::i4;
    if (t == "i8") return DType::i8;
    if (t == "u1") return DType::u1;
    if (t == "b1") return DType::b1;
    fail(name_, cat("unsupported dtype '", excerpt(d), "' (supported: <f4 <f8 <i4 <i8 |u1 |b1)"));
  }

  static constexpr std::size_t kMaxDims = 64;  // NumPy's own limit (NPY_MAXDIMS) is 32 or 64
  std::string_view t_;
  const std::string& name_;
  std::size_t i_ = 0;
};

template <class T>
void append_raw(std::ostream& os, const T* data, std::int64_t count) {
  os.write(reinterpret_cast<const char*>(data),
           static_cast<std::streamsize>(count * static_cast<std::int64_t>(sizeof(T))));
}

std::string make_header(DType t, const std::vector<std::int64_t>& shape) {
  std::string dims;
  for (std::size_t i = 0; i < shape.size(); ++i)
    dims += cat(shape[i], shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : ""));
  std::string dict =
      cat("{'descr': '", dtype_descr(t), "', 'fortran_order': False, 'shape': (", dims, "), }");
  // Magic (6) + version (2) + length (2) + dict + padding + '\n' is a multiple of 64.
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict.push_back('\n');
  std::string h(kMagic, 6);
  h.push_back('\x01');
  h.push_back('\x00');
  const auto len = static_cast<std::uint16_t>(dict.size());
  h.push_back(static_cast<char>(len & 0xff));
  h.push_back(static_cast<char>(len >> 8));
  return h + dict;
}

template <class T>
void save_typed(const std::filesystem::path& path, DType t, const T* data,
                const std::vector<std::int64_t>& shape) {
  std::int64_t count = 1;
  for (auto d : shape) count *= d;
  AtomicOutput out(path);
  out.stream() << make_header(t, shape);
  append_raw(out.stream(), data, count);
  out.commit();
}

}  // namespace

const char* dtype_descr(DType t) {
  switch (t) {
    case DType::f4:
      return "<f4";
    case DType::f8:
      return "<f8";
    case DType::i4:
      return "<i4";
    case DType::i8:
      return "<i8";
    case DType::u1:
      return "|u1";
    case DType::b1:
      return "|b1";
  }
  return "?";
}

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::f4:
    case DType::i4:
      return 4;
    case DType::f8:
    case DType::i8:
      return 8;
    case DType::u1:
    case DType::b1:
      return 1;
  }
  return 0;
}

std::int64_t Header::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string Header::shape_string() const {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += cat(i ? ", " : "", shape[i]);
  if (shape.size() == 1) s += ",";
  return s + ")";
}

Header parse_header(std::string_view bytes, const std::string& name) {
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kMagic, 6) != 0)
    fail(name, "not a .npy file (bad magic bytes)");
  const int major = static_cast<unsigned char>(bytes[6]);
  const auto byte = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i]));
  };
  std::uint32_t hlen = 0;
  std::size_t prefix = 0;
  if (major == 1) {
    prefix = 10;
    if (bytes.size() < prefix) fail(name, "truncated npy header");
    hlen = byte(8) | byte(9) << 8;
  } else if (major == 2 || major == 3) {
    prefix = 12;
    if (bytes.size() < prefix) fail(name, "truncated npy header");
    hlen = byte(8) | byte(9) << 8 | byte(10) << 16 | byte(11) << 24;
  } else {
    fail(name, cat("unsupported npy format version ", major));
  }
  if (hlen > kMaxHeaderBytes)
    fail(name, cat("npy header length ", hlen, " exceeds the limit of ", kMaxHeaderBytes,
                   " bytes (NumPy's max_header_size)"));
  if (bytes.size() - prefix < hlen) fail(name, "truncated npy header");
  Header h = DictParser(bytes.substr(prefix, hlen), name).parse();
  h.data_offset = static_cast<std::int64_t>(prefix + hlen);
  std::int64_t count = 1;
  for (auto d : h.shape) {
    if (d != 0 && count > std::numeric_limits<std::int64_t>::max() / 16 / d)
      fail(name, cat("array shape ", h.shape_string(), " is too large"));
    count *= d;
  }
  return h;
}

void check_data_size(const Header& h, std::uint64_t file_size, const std::string& name) {
  const std::int64_t need = h.data_offset + h.numel() * static_cast<std::int64_t>(dtype_size(h.dtype));
  if (file_size < static_cast<std::uint64_t>(need))
    fail(name, cat("truncated: shape ", h.shape_string(), " of ", dtype_descr(h.dtype), " needs ", need,
                   " bytes but the file has ", file_size));
}

Header read_header(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(name, "cannot open file");
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(name, "cannot read: is a directory");
  // Prefix first, then exactly the header length it announces.
  std::string bytes(12, '\0');
  in.read(bytes.data(), 12);
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  if (bytes.size() >= 10 && std::memcmp(bytes.data(), kMagic, 6) == 0) {
    const int major = static_cast<unsigned char>(bytes[6]);
    std::uint64_t hlen = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    std::size_t prefix = 10;
    if ((major == 2 || major == 3) && bytes.size() >= 12) {
      hlen |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[10])) << 16 |
              static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[11])) << 24;
      prefix = 12;
    }
    if (hlen <= kMaxHeaderBytes && prefix + hlen > bytes.size()) {
      const std::size_t have = bytes.size();
      bytes.resize(prefix + hlen);
      in.read(bytes.data() + have, static_cast<std::streamsize>(bytes.size() - have));
      bytes.resize(have + static_cast<std::size_t>(in.gcount()));
    }
  }
  Header h = parse_header(bytes, name);
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) fail(name, cat("cannot read the file size: ", ec.message()));
  check_data_size(h, size, name);
  return h;
}

namespace {

// Converts `count` little-endian elements of h.dtype at `src` to Out.
template <class Out>
void decode(const char* src, DType dtype, std::int64_t count, Out* dst) {
  if (count <= 0) return;  // an empty array may have no storage at all (memcpy to null is undefined)
  const std::size_t isz = dtype_size(dtype);
  if (sizeof(Out) == isz && ((std::is_floating_point_v<Out> && dtype == DType::f4) ||
                             (std::is_integral_v<Out> && dtype == DType::i8))) {
    std::memcpy(dst, src, static_cast<std::size_t>(count) * isz);
    return;
  }
  for (std::int64_t i = 0; i < count; ++i) {
    const char* s = src + i * static_cast<std::int64_t>(isz);
    Out v{};
    switch (dtype) {
      case DType::f4: {
        float x;
        std::memcpy(&x, s, 4);
        v = static_cast<Out>(x);
        break;
      }
      case DType::f8: {
        double x;
        std::memcpy(&x, s, 8);
        v = static_cast<Out>(x);
        break;
      }
      case DType::i4: {
        std::int32_t x;
        std::memcpy(&x, s, 4);
        v = static_cast<Out>(x);
        break;
      }
      case DType::i8: {
        std::int64_t x;
        std::memcpy(&x, s, 8);
        v = static_cast<Out>(x);
        break;
      }
      case DType::u1:
      case DType::b1:
        v = static_cast<Out>(static_cast<unsigned char>(*s));
        break;
    }
    dst[i] = v;
  }
}

// Reads the data section in chunks and converts each element to Out.
template <class Out>
void read_converted(const std::filesystem::path& path, const Header& h, Out* dst) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(h.data_offset);
  const std::int64_t count = h.numel();
  const auto isz = static_cast<std::int64_t>(dtype_size(h.dtype));
  constexpr std::int64_t kChunk = 1 << 16;
  std::vector<char> buf(static_cast<std::size_t>(kChunk * isz));
  for (std::int64_t base = 0; base < count; base += kChunk) {
    const std::int64_t c = std::min(kChunk, count - base);
    in.read(buf.data(), static_cast<std::streamsize>(c * isz));
    if (!in) fail(path.string(), "read error in the data section (file truncated while reading?)");
    decode(buf.data(), h.dtype, c, dst + base);
  }
}

// The memory budget of a load: the converted array (Out) from the file's shape.
template <class Out>
void require_load_memory(const Header& h, const std::string& name) {
  require_memory(static_cast<double>(h.numel()) * static_cast<double>(sizeof(Out)),
                 cat(name, ": array ", h.shape_string(), " of ", dtype_descr(h.dtype)));
}

template <class Out>
std::vector<Out> decode_bytes(std::string_view bytes, const std::string& name, Header* header) {
  Header h = parse_header(bytes, name);
  check_data_size(h, bytes.size(), name);
  require_load_memory<Out>(h, name);
  std::vector<Out> out(static_cast<std::size_t>(h.numel()));
  decode(bytes.data() + h.data_offset, h.dtype, h.numel(), out.data());
  if (header) *header = h;
  return out;
}

}  // namespace

Buffer<float> load_f32(const std::filesystem::path& path, Header* header, int rank) {
  Header h = read_header(path);
  if (rank >= 0 && static_cast<int>(h.shape.size()) != rank)
    fail(path.string(), cat("expected a ", rank, "-dimensional array, got shape ", h.shape_string()));
  require_load_memory<float>(h, path.string());
  Buffer<float> out(h.numel());
  read_converted(path, h, out.data());
  if (header) *header = h;
  return out;
}

std::vector<std::int64_t> load_i64(const std::filesystem::path& path, Header* header) {
  Header h = read_header(path);
  if (h.dtype == DType::f4 || h.dtype == DType::f8)
    fail(path.string(), cat("expected an integer array, got dtype ", dtype_descr(h.dtype)));
  require_load_memory<std::int64_t>(h, path.string());
  std::vector<std::int64_t> out(static_cast<std::size_t>(h.numel()));
  read_converted(path, h, out.data());
  if (header) *header = h;
  return out;
}

std::vector<float> decode_f32(std::string_view bytes, const std::string& name, Header* header) {
  return decode_bytes<float>(bytes, name, header);
}

std::vector<std::int64_t> decode_i64(std::string_view bytes, const std::string& name, Header* header) {
  Header h = parse_header(bytes, name);
  if (h.dtype == DType::f4 || h.dtype == DType::f8)
    fail(name, cat("expected an integer array, got dtype ", dtype_descr(h.dtype)));
  return decode_bytes<std::int64_t>(bytes, name, header);
}

void save(const std::filesystem::path& p, const float* d, const std::vector<std::int64_t>& s) {
  save_typed(p, DType::f4, d, s);
}
void save(const std::filesystem::path& p, const double* d, const std::vector<std::int64_t>& s) {
  save_typed(p, DType::f8, d, s);
}
void save(const std::filesystem::path& p, const std::int32_t* d, const std::vector<std::int64_t>& s) {
  save_typed(p, DType::i4, d, s);
}
void save(const std::filesystem::path& p, const std::int64_t* d, const std::vector<std::int64_t>& s) {
  save_typed(p, DType::i8, d, s);
}
void save(const std::filesystem::path& p, const std::uint8_t* d, const std::vector<std::int64_t>& s) {
  save_typed(p, DType::u1, d, s);
}

}  // namespace diffuser::npy
