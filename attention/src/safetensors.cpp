// safetensors reader and writer. The reader validates the whole header before any data is read,
// following the format's rules: offsets relative to the data section, each range exactly
// numel * dtype size bytes, ranges in order without overlap, and no bytes left unindexed.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include <diffuser/attention/safetensors.hpp>
#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/bf16.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/sys.hpp>

#include "json_strict.hpp"

namespace diffuser::safetensors {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct DTypeName {
  DType t;
  const char* name;
  std::size_t size;
};
constexpr DTypeName kDTypes[] = {{DType::F64, "F64", 8},   {DType::F32, "F32", 4}, {DType::F16, "F16", 2},
                                 {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
                                 {DType::I16, "I16", 2},   {DType::I8, "I8", 1},   {DType::U8, "U8", 1},
                                 {DType::BOOL, "BOOL", 1}};

DType parse_dtype(const std::string& s) {
  for (const auto& d : kDTypes)
    if (s == d.name) return d.t;
  return DType::other;
}

[[noreturn]] void fail(const fs::path& p, const std::string& msg) {
  throw Error(cat(p.string(), ": ", msg));
}

std::string join_shape(const std::vector<std::int64_t>& s) {
  std::string out = "(";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  if (s.size() == 1) out += ",";
  return out + ")";
}

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = (h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | static_cast<std::uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace

const char* dtype_name(DType t) {
  for (const auto& d : kDTypes)
    if (d.t == t) return d.name;
  return "?";
}

std::size_t dtype_size(DType t) {
  for (const auto& d : kDTypes)
    if (d.t == t) return d.size;
  return 0;
}

std::int64_t TensorInfo::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string TensorInfo::shape_string() const {
  return join_shape(shape);
}

std::uint16_t to_bf16(float x) {
  return diffuser::to_bf16(x).bits;
}
float from_bf16(std::uint16_t b) {
  return diffuser::to_float(bf16{b});
}

Reader Reader::open(const fs::path& path) {
  Reader r;
  r.path_ = path;
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path, "no such file");
  if (!fs::is_regular_file(path, ec)) fail(path, "not a regular file");
  const std::uint64_t file_size = fs::file_size(path, ec);
  if (ec) fail(path, "cannot read the file size: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open for reading");
  if (file_size < 8)
    fail(path,
         cat("truncated: ", file_size, " bytes, but a safetensors file starts with an 8-byte header length"));
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > kMaxHeaderBytes)
    fail(path, cat("header length ", header_len, " exceeds the limit of ", kMaxHeaderBytes,
                   " bytes (not a safetensors file?)"));
  if (header_len > file_size - 8)
    fail(path, cat("truncated: the header needs ", header_len, " bytes but only ", file_size - 8, " follow"));
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  if (!in) fail(path, "cannot read the header");
  r.data_start_ = 8 + header_len;
  const std::uint64_t data_size = file_size - r.data_start_;

  parse_header(r, header, data_size);
  return r;
}

void Reader::parse_header(Reader& r, std::string_view header, std::uint64_t data_size) {
  const fs::path& path = r.path_;
  // The JSON tree takes several times the text's bytes; the text itself is at most 100 MB.
  require_memory(16.0 * static_cast<double>(header.size()),
                 cat(path.string(), ": the ", header.size(), "-byte header"));
  const json j = attention::detail::parse_json_strict(header, path.string(), "the header");
  if (!j.is_object()) fail(path, "the header is not a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(path, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          fail(path, cat("__metadata__ value of '", excerpt(m.key()), "' is not a string"));
        r.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (name.empty()) fail(path, "a tensor has an empty name");
    const std::string where = cat("tensor '", excerpt(name, 64), "'");
    if (!v.is_object()) fail(path, where + " is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) fail(path, where + " has no dtype string");
    if (!v.contains("shape") || !v["shape"].is_array()) fail(path, where + " has no shape array");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      fail(path, where + " has no data_offsets [begin, end]");
    TensorInfo t;
    t.name = name;
    t.dtype_text = v["dtype"].get<std::string>();
    t.dtype = parse_dtype(t.dtype_text);
    if (t.dtype == DType::other)
      fail(path, cat(where, " has an unknown dtype '", excerpt(t.dtype_text), "'"));
    std::int64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned() || d.get<std::uint64_t>() > (std::uint64_t{1} << 50))
        fail(path, cat(where, " has a bad shape entry ", attention::detail::json_excerpt(d),
                       " (dimensions are integers in [0, 2^50])"));
      t.shape.push_back(d.get<std::int64_t>());
      const std::int64_t dim = t.shape.back();
      if (dim != 0 && numel > (std::int64_t{1} << 50) / dim) fail(path, where + " has an absurd shape");
      numel *= dim;
    }
    for (const auto& o : v["data_offsets"])
      if (!o.is_number_unsigned())
        fail(path, cat(where, " has a bad data offset ", attention::detail::json_excerpt(o)));
    t.begin = v["data_offsets"][0].get<std::uint64_t>();
    t.end = v["data_offsets"][1].get<std::uint64_t>();
    if (t.end < t.begin)
      fail(path, cat(where, " has data_offsets [", t.begin, ", ", t.end, "] that end before they begin"));
    if (t.end > data_size)
      fail(path, cat("truncated: ", where, " needs bytes [", t.begin, ", ", t.end,
                     ") of the data section but it holds ", data_size, " bytes"));
    const std::uint64_t want = static_cast<std::uint64_t>(numel) * dtype_size(t.dtype);
    if (t.end - t.begin != want)
      fail(path, cat(where, " has ", t.end - t.begin, " data bytes but shape ", t.shape_string(), " of ",
                     t.dtype_text, " needs ", want));
    r.tensors_.push_back(std::move(t));
  }
  // Ranges in order must tile [0, data_size) exactly.
  std::vector<const TensorInfo*> order;
  for (const auto& t : r.tensors_) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) {
    return a->begin < b->begin || (a->begin == b->begin && a->end < b->end);
  });
  std::uint64_t at = 0;
  for (const auto* t : order) {
    if (t->begin < at)
      fail(path,
           cat("tensor '", excerpt(t->name, 64), "' overlaps the tensor before it (bytes ", t->begin, ".."));
    if (t->begin > at)
      fail(path, cat("the data section has a hole: bytes [", at, ", ", t->begin, ") belong to no tensor"));
    at = t->end;
  }
  if (at != data_size)
    fail(path, cat("the data section has ", data_size, " bytes but the tensors cover ", at,
                   " (trailing bytes, or a file written incompletely)"));
  std::sort(r.tensors_.begin(), r.tensors_.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
}

Reader Reader::from_bytes(std::string_view bytes, const fs::path& name) {
  Reader r;
  r.path_ = name;
  if (bytes.size() < 8)
    fail(name, cat("truncated: ", bytes.size(),
                   " bytes, but a safetensors file starts with an 8-byte header length"));
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i)
    header_len = (header_len << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  if (header_len > kMaxHeaderBytes)
    fail(name, cat("header length ", header_len, " exceeds the limit of ", kMaxHeaderBytes,
                   " bytes (not a safetensors file?)"));
  if (header_len > bytes.size() - 8)
    fail(name,
         cat("truncated: the header needs ", header_len, " bytes but only ", bytes.size() - 8, " follow"));
  r.data_start_ = 8 + header_len;
  parse_header(r, bytes.substr(8, header_len), bytes.size() - r.data_start_);
  return r;
}

const TensorInfo* Reader::find(const std::string& name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorInfo& t, const std::string& n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

std::vector<float> Reader::read_f32(const std::string& name,
                                    const std::vector<std::int64_t>* expected) const {
  const TensorInfo* t = find(name);
  if (!t) {
    std::string names;
    for (std::size_t i = 0; i < tensors_.size() && i < 6; ++i)
      names += (i ? ", " : "") + excerpt(tensors_[i].name, 64);
    if (tensors_.size() > 6) names += ", ...";
    fail(path_, cat("no tensor '", excerpt(name, 64), "' (the file has ", tensors_.size(), " tensors",
                    tensors_.empty() ? "" : ": ", names, ")"));
  }
  if (expected && *expected != t->shape)
    fail(path_, cat("tensor '", excerpt(name, 64), "' has shape ", t->shape_string(), " but ",
                    join_shape(*expected), " is expected"));
  if (t->dtype != DType::F32 && t->dtype != DType::BF16 && t->dtype != DType::F16 && t->dtype != DType::F64)
    fail(path_, cat("tensor '", excerpt(name, 64), "' has dtype ", t->dtype_text,
                    "; weights must be F32, BF16, F16 or F64"));
  require_memory(
      static_cast<double>(t->end - t->begin) + 4.0 * static_cast<double>(t->numel()),
      cat(path_.string(), ": tensor '", excerpt(name, 64), "' ", t->shape_string(), " of ", t->dtype_text));
  std::ifstream in(path_, std::ios::binary);
  if (!in) fail(path_, "cannot open for reading");
  in.seekg(static_cast<std::streamoff>(data_start_ + t->begin));
  std::string raw(t->end - t->begin, '\0');
  in.read(raw.data(), static_cast<std::streamsize>(raw.size()));
  if (!in)
    fail(path_,
         cat("cannot read the data of tensor '", excerpt(name, 64), "' (file truncated while reading?)"));
  return decode_f32(*t, raw);
}

std::vector<float> Reader::decode_f32(const TensorInfo& t, std::string_view raw) const {
  const std::int64_t n = t.numel();
  DIFFUSER_CHECK(raw.size() == t.end - t.begin, path_.string(), ": tensor '", excerpt(t.name, 64),
                 "': ", raw.size(), " data bytes for a range of ", t.end - t.begin);
  std::vector<float> out(static_cast<std::size_t>(n));
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  for (std::int64_t i = 0; i < n; ++i) {
    switch (t.dtype) {
      case DType::F32: {
        std::uint32_t u =
            static_cast<std::uint32_t>(p[4 * i]) | static_cast<std::uint32_t>(p[4 * i + 1]) << 8 |
            static_cast<std::uint32_t>(p[4 * i + 2]) << 16 | static_cast<std::uint32_t>(p[4 * i + 3]) << 24;
        std::memcpy(&out[static_cast<std::size_t>(i)], &u, 4);
        break;
      }
      case DType::F64: {
        std::uint64_t u = 0;
        for (int b = 7; b >= 0; --b) u = (u << 8) | p[8 * i + b];
        double d;
        std::memcpy(&d, &u, 8);
        out[static_cast<std::size_t>(i)] = static_cast<float>(d);  // beyond float's range: Inf, refused below
        break;
      }
      case DType::BF16:
        out[static_cast<std::size_t>(i)] =
            from_bf16(static_cast<std::uint16_t>(p[2 * i] | p[2 * i + 1] << 8));
        break;
      default:
        out[static_cast<std::size_t>(i)] =
            half_to_float(static_cast<std::uint16_t>(p[2 * i] | p[2 * i + 1] << 8));
        break;
    }
  }
  // Weights must be finite: a NaN or Inf would turn every output it touches into NaN.
  for (std::int64_t i = 0; i < n; ++i) {
    const float x = out[static_cast<std::size_t>(i)];
    if (!std::isfinite(x)) {
      std::string index;
      std::int64_t rest = i;
      for (std::size_t k = t.shape.size(); k-- > 0;) {
        const std::int64_t dim = std::max<std::int64_t>(1, t.shape[k]);
        index = cat(rest % dim, index.empty() ? "" : ", ", index);
        rest /= dim;
      }
      fail(path_, cat("tensor '", excerpt(t.name, 64), "' element [", index, "] is ",
                      std::isnan(x) ? "NaN" : (x > 0 ? "+Inf" : "-Inf"), "; weights must be finite"));
    }
  }
  return out;
}

void Reader::read_f32_into(const std::string& name, const std::vector<std::int64_t>& expected,
                           float* out) const {
  const auto v = read_f32(name, &expected);
  std::copy(v.begin(), v.end(), out);
}

void Writer::add(const std::string& name, const float* data, const std::vector<std::int64_t>& shape) {
  DIFFUSER_CHECK(!name.empty() && name != "__metadata__", "safetensors: bad tensor name '", name, "'");
  DIFFUSER_CHECK(!entries_.count(name), "safetensors: tensor '", name, "' added twice");
  std::int64_t n = 1;
  for (auto d : shape) {
    DIFFUSER_CHECK(d >= 0, "safetensors: tensor '", name, "' has a negative dimension");
    n *= d;
  }
  Entry e;
  e.shape = shape;
  e.data.assign(data, data + n);
  entries_.emplace(name, std::move(e));
}

std::string Writer::serialize() const {
  const std::size_t esize = storage_ == Storage::f32 ? 4 : 2;
  json header = json::object();
  std::uint64_t at = 0;
  for (const auto& [name, e] : entries_) {
    const std::uint64_t bytes = e.data.size() * esize;
    header[name] = {{"dtype", storage_ == Storage::f32 ? "F32" : "BF16"},
                    {"shape", e.shape},
                    {"data_offsets", {at, at + bytes}}};
    at += bytes;
  }
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::string h = header.dump();
  while (h.size() % 8 != 0) h.push_back(' ');
  std::string out;
  out.reserve(8 + h.size() + at);
  const std::uint64_t len = h.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  out += h;
  for (const auto& [name, e] : entries_) {
    (void)name;
    for (float f : e.data) {
      if (storage_ == Storage::f32) {
        std::uint32_t u;
        std::memcpy(&u, &f, 4);
        for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>((u >> (8 * b)) & 0xff));
      } else {
        const std::uint16_t u = to_bf16(f);
        out.push_back(static_cast<char>(u & 0xff));
        out.push_back(static_cast<char>(u >> 8));
      }
    }
  }
  return out;
}

void Writer::write(const fs::path& path) const {
  const std::string bytes = serialize();
  AtomicOutput out(path);
  out.stream().write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.commit();
}

}  // namespace diffuser::safetensors
