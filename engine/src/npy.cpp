#include <algorithm>
#include <cstring>
#include <type_traits>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/npy.hpp>

namespace diffuser::npy {

namespace {

constexpr char kMagic[] = "\x93NUMPY";

[[noreturn]] void fail(const std::filesystem::path& p, const std::string& what) {
  throw Error(cat(p.string(), ": ", what));
}

// Finds the value text after 'key': in the header dict.
std::string dict_value(const std::string& dict, const std::string& key, const std::filesystem::path& p) {
  const auto k = dict.find("'" + key + "'");
  if (k == std::string::npos) fail(p, cat("npy header has no '", key, "' entry: ", dict));
  auto colon = dict.find(':', k);
  if (colon == std::string::npos) fail(p, cat("malformed npy header: ", dict));
  auto v = dict.find_first_not_of(" ", colon + 1);
  if (v == std::string::npos) fail(p, cat("malformed npy header: ", dict));
  std::size_t end;
  if (dict[v] == '(') {
    end = dict.find(')', v);
    if (end == std::string::npos) fail(p, cat("malformed shape in npy header: ", dict));
    return dict.substr(v, end - v + 1);
  }
  if (dict[v] == '\'' || dict[v] == '"') {
    end = dict.find(dict[v], v + 1);
    if (end == std::string::npos) fail(p, cat("malformed npy header: ", dict));
    return dict.substr(v + 1, end - v - 1);
  }
  end = dict.find_first_of(",}", v);
  return dict.substr(v, end - v);
}

DType parse_descr(const std::string& d, const std::filesystem::path& p) {
  if (d.size() == 3 && d[0] == '>' && d[2] != '1')
    fail(p, cat("big-endian dtype '", d, "' is not supported (save little-endian: arr.astype('<", d.substr(1), "'))"));
  const std::string t = d.size() == 3 ? d.substr(1) : d;
  if (t == "f4") return DType::f4;
  if (t == "f8") return DType::f8;
  if (t == "i4") return DType::i4;
  if (t == "i8") return DType::i8;
  if (t == "u1") return DType::u1;
  if (t == "b1") return DType::b1;
  fail(p, cat("unsupported dtype '", d, "' (supported: <f4 <f8 <i4 <i8 |u1 |b1)"));
}

std::vector<std::int64_t> parse_shape(const std::string& s, const std::filesystem::path& p) {
  std::vector<std::int64_t> shape;
  std::string inner = s.substr(1, s.size() - 2);
  std::stringstream ss(inner);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto b = item.find_first_not_of(" ");
    if (b == std::string::npos) continue;
    const auto e = item.find_last_not_of(" L");
    const std::string num = item.substr(b, e - b + 1);
    std::size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(num, &used);
    } catch (...) {
      used = 0;
    }
    if (used != num.size() || v < 0) fail(p, cat("bad dimension '", num, "' in npy shape ", s));
    shape.push_back(v);
  }
  return shape;
}

template <class T>
void append_raw(std::ostream& os, const T* data, std::int64_t count) {
  os.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * static_cast<std::int64_t>(sizeof(T))));
}

std::string make_header(DType t, const std::vector<std::int64_t>& shape) {
  std::string dims;
  for (std::size_t i = 0; i < shape.size(); ++i) dims += cat(shape[i], shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : ""));
  std::string dict = cat("{'descr': '", dtype_descr(t), "', 'fortran_order': False, 'shape': (", dims, "), }");
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
void save_typed(const std::filesystem::path& path, DType t, const T* data, const std::vector<std::int64_t>& shape) {
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
    case DType::f4: return "<f4";
    case DType::f8: return "<f8";
    case DType::i4: return "<i4";
    case DType::i8: return "<i8";
    case DType::u1: return "|u1";
    case DType::b1: return "|b1";
  }
  return "?";
}

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::f4: case DType::i4: return 4;
    case DType::f8: case DType::i8: return 8;
    case DType::u1: case DType::b1: return 1;
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

Header read_header(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open file");
  char pre[10];
  in.read(pre, 8);
  if (in.gcount() < 8 || std::memcmp(pre, kMagic, 6) != 0) fail(path, "not a .npy file (bad magic bytes)");
  const int major = static_cast<unsigned char>(pre[6]);
  std::uint32_t hlen = 0;
  std::int64_t prefix = 0;
  if (major == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    if (in.gcount() < 2) fail(path, "truncated npy header");
    hlen = b[0] | (b[1] << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    if (in.gcount() < 4) fail(path, "truncated npy header");
    hlen = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
    prefix = 12;
  } else {
    fail(path, cat("unsupported npy format version ", major));
  }
  if (hlen > (1u << 20)) fail(path, cat("npy header length ", hlen, " is implausible"));
  std::string dict(hlen, '\0');
  in.read(dict.data(), hlen);
  if (static_cast<std::uint32_t>(in.gcount()) < hlen) fail(path, "truncated npy header");

  Header h;
  h.dtype = parse_descr(dict_value(dict, "descr", path), path);
  const std::string fortran = dict_value(dict, "fortran_order", path);
  if (fortran.find("True") != std::string::npos)
    fail(path, "Fortran-ordered arrays are not supported (save with np.ascontiguousarray)");
  h.shape = parse_shape(dict_value(dict, "shape", path), path);
  h.data_offset = prefix + hlen;

  std::int64_t count = 1;
  for (auto d : h.shape) {
    if (d != 0 && count > std::numeric_limits<std::int64_t>::max() / 16 / d) fail(path, "array shape is too large");
    count *= d;
  }
  const auto size = static_cast<std::int64_t>(std::filesystem::file_size(path));
  const std::int64_t need = h.data_offset + count * static_cast<std::int64_t>(dtype_size(h.dtype));
  if (size < need)
    fail(path, cat("truncated: shape ", h.shape_string(), " of ", dtype_descr(h.dtype), " needs ", need,
                   " bytes but the file has ", size));
  return h;
}

namespace {

// Reads the data section and converts each element to Out, in chunks.
template <class Out>
void read_converted(const std::filesystem::path& path, const Header& h, Out* dst) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(h.data_offset);
  const std::int64_t count = h.numel();
  const std::size_t isz = dtype_size(h.dtype);
  if (sizeof(Out) == isz && ((std::is_floating_point_v<Out> && h.dtype == DType::f4) ||
                             (std::is_integral_v<Out> && h.dtype == DType::i8))) {
    in.read(reinterpret_cast<char*>(dst), static_cast<std::streamsize>(count * static_cast<std::int64_t>(isz)));
    if (!in) fail(path, "read error in the data section");
    return;
  }
  constexpr std::int64_t kChunk = 1 << 16;
  std::vector<char> buf(static_cast<std::size_t>(kChunk) * isz);
  for (std::int64_t base = 0; base < count; base += kChunk) {
    const std::int64_t c = std::min(kChunk, count - base);
    in.read(buf.data(), static_cast<std::streamsize>(c * static_cast<std::int64_t>(isz)));
    if (!in) fail(path, "read error in the data section");
    for (std::int64_t i = 0; i < c; ++i) {
      const char* s = buf.data() + i * static_cast<std::int64_t>(isz);
      Out v{};
      switch (h.dtype) {
        case DType::f4: { float x; std::memcpy(&x, s, 4); v = static_cast<Out>(x); break; }
        case DType::f8: { double x; std::memcpy(&x, s, 8); v = static_cast<Out>(x); break; }
        case DType::i4: { std::int32_t x; std::memcpy(&x, s, 4); v = static_cast<Out>(x); break; }
        case DType::i8: { std::int64_t x; std::memcpy(&x, s, 8); v = static_cast<Out>(x); break; }
        case DType::u1: case DType::b1: v = static_cast<Out>(static_cast<unsigned char>(*s)); break;
      }
      dst[base + i] = v;
    }
  }
}

}  // namespace

Buffer<float> load_f32(const std::filesystem::path& path, Header* header, int rank) {
  Header h = read_header(path);
  if (rank >= 0 && static_cast<int>(h.shape.size()) != rank)
    fail(path, cat("expected a ", rank, "-dimensional array, got shape ", h.shape_string()));
  Buffer<float> out(h.numel());
  read_converted(path, h, out.data());
  if (header) *header = h;
  return out;
}

std::vector<std::int64_t> load_i64(const std::filesystem::path& path, Header* header) {
  Header h = read_header(path);
  if (h.dtype == DType::f4 || h.dtype == DType::f8)
    fail(path, cat("expected an integer array, got dtype ", dtype_descr(h.dtype)));
  std::vector<std::int64_t> out(static_cast<std::size_t>(h.numel()));
  read_converted(path, h, out.data());
  if (header) *header = h;
  return out;
}

void save(const std::filesystem::path& p, const float* d, const std::vector<std::int64_t>& s) { save_typed(p, DType::f4, d, s); }
void save(const std::filesystem::path& p, const double* d, const std::vector<std::int64_t>& s) { save_typed(p, DType::f8, d, s); }
void save(const std::filesystem::path& p, const std::int32_t* d, const std::vector<std::int64_t>& s) { save_typed(p, DType::i4, d, s); }
void save(const std::filesystem::path& p, const std::int64_t* d, const std::vector<std::int64_t>& s) { save_typed(p, DType::i8, d, s); }
void save(const std::filesystem::path& p, const std::uint8_t* d, const std::vector<std::int64_t>& s) { save_typed(p, DType::u1, d, s); }

}  // namespace diffuser::npy
