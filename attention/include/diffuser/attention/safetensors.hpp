// safetensors files (Hugging Face's weight format): 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets}, "__metadata__": {..}}, then the raw little-endian data.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace diffuser::safetensors {

// Largest header accepted (the reference implementation's limit).
inline constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL, other };
const char* dtype_name(DType t);
std::size_t dtype_size(DType t);  // 0 for other

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::string dtype_text;  // as written in the header
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;  // byte offsets into the data section
  std::int64_t numel() const;
  std::string shape_string() const;  // "(768, 768)"
};

// A file opened for reading: the header is parsed and validated at open(); tensor data is read on
// demand. Errors (Error) name the file: missing, shorter than 8 bytes, header length beyond the
// file or the limit, header not JSON or not an object, an entry without dtype / shape /
// data_offsets or with ill-typed ones, negative dims, unknown dtype, offsets out of order or past
// the data, a byte range that does not match shape x dtype, overlapping tensors, holes in the data.
// The header is JSON read strictly: a tensor name given twice is refused (not "last one wins"),
// and so is a number beyond a double. Tensor data read as float32 must be finite.
class Reader {
 public:
  static Reader open(const std::filesystem::path& path);
  // The same checks on a whole file held in memory (tests, fuzz targets); `name` names it in
  // messages. Tensors of such a reader are decoded with decode_f32, not read_f32.
  static Reader from_bytes(std::string_view bytes, const std::filesystem::path& name);

  const std::filesystem::path& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorInfo* find(const std::string& name) const;
  bool contains(const std::string& name) const { return find(name) != nullptr; }

  // Reads tensor `name` as float32 (F32 as is; BF16, F16 and F64 converted). Throws Error naming
  // the file and tensor when it is missing ("no tensor 'x' (the file has 12 tensors: a, b, ...)"),
  // has another shape than `expected` (when given), or a non-float dtype.
  std::vector<float> read_f32(const std::string& name,
                              const std::vector<std::int64_t>* expected = nullptr) const;
  void read_f32_into(const std::string& name, const std::vector<std::int64_t>& expected, float* out) const;
  // Converts a tensor's raw bytes (its data range) to float32; Error naming the file, the tensor and
  // the element for a NaN or Inf. read_f32 checks the memory budget before reading.
  std::vector<float> decode_f32(const TensorInfo& t, std::string_view raw) const;

 private:
  static void parse_header(Reader& r, std::string_view header, std::uint64_t data_size);
  std::filesystem::path path_;
  std::uint64_t data_start_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Collects tensors and writes them in one go, atomically (temporary file + rename). Tensors are
// laid out in name order, the header padded with spaces to a multiple of 8 bytes.
class Writer {
 public:
  enum class Storage { f32, bf16 };
  explicit Writer(Storage storage = Storage::f32) : storage_(storage) {}
  // Copies `count` floats; throws Error for a duplicate or empty name, or a shape that does not hold count.
  void add(const std::string& name, const float* data, const std::vector<std::int64_t>& shape);
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  void write(const std::filesystem::path& path) const;
  // The whole file's bytes (for tests and for callers that stage outputs themselves).
  std::string serialize() const;

 private:
  struct Entry {
    std::vector<std::int64_t> shape;
    std::vector<float> data;
  };
  Storage storage_;
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

// float <-> bfloat16 (round to nearest even; NaN stays NaN).
std::uint16_t to_bf16(float x);
float from_bf16(std::uint16_t b);

}  // namespace diffuser::safetensors
