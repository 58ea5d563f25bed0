// NumPy .npy files (format versions 1-3, little-endian, C order): the project's format for dense
// arrays (Q, K, V, outputs (N, H, D), masks (N,), edge lists (E, 2)). Errors name the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <diffuser/engine/buffer.hpp>

namespace diffuser::npy {

enum class DType { f4, f8, i4, i8, u1, b1 };

// "<f4", "<f8", "<i4", "<i8", "|u1", "|b1".
const char* dtype_descr(DType t);
std::size_t dtype_size(DType t);

struct Header {
  DType dtype = DType::f4;
  std::vector<std::int64_t> shape;
  std::int64_t data_offset = 0;  // bytes from the start of the file to the first element

  std::int64_t numel() const;
  std::string shape_string() const;  // "(4096, 12, 64)"
};

// Largest header dict accepted: NumPy's own default (np.load's max_header_size).
inline constexpr std::uint32_t kMaxHeaderBytes = 10000;

// Parses the header; throws Error ("FILE: ...") for a missing file, bad magic, unsupported dtype
// (big-endian, Fortran order, objects) or a data section shorter than the shape needs.
Header read_header(const std::filesystem::path& path);

// The same from the file's first bytes (at least the whole header), for callers that hold the
// file in memory and for the fuzz targets: a header dict NumPy would write, read strictly (only
// the keys descr, fortran_order and shape, each exactly once; a tuple shape; nothing but padding
// after the dict). Errors name `name`. Does not check the data size (check_data_size does).
Header parse_header(std::string_view bytes, const std::string& name);
void check_data_size(const Header& h, std::uint64_t file_size, const std::string& name);

// Reads any real dtype (f4, f8, i4, i8, u1, b1) as float32 on the CPU. When `rank` >= 0 the array
// must have that many dimensions.
Buffer<float> load_f32(const std::filesystem::path& path, Header* header = nullptr, int rank = -1);

// Reads an integer array (i4, i8, u1, b1) as int64; float dtypes are rejected.
std::vector<std::int64_t> load_i64(const std::filesystem::path& path, Header* header = nullptr);

// Both loads check the memory budget (sys.hpp) for the converted array before allocating it.
// The same from a whole file held in memory (errors name `name`).
std::vector<float> decode_f32(std::string_view bytes, const std::string& name, Header* header = nullptr);
std::vector<std::int64_t> decode_i64(std::string_view bytes, const std::string& name,
                                     Header* header = nullptr);

// Writes atomically (temporary file + rename).
void save(const std::filesystem::path& path, const float* data, const std::vector<std::int64_t>& shape);
void save(const std::filesystem::path& path, const double* data, const std::vector<std::int64_t>& shape);
void save(const std::filesystem::path& path, const std::int32_t* data,
          const std::vector<std::int64_t>& shape);
void save(const std::filesystem::path& path, const std::int64_t* data,
          const std::vector<std::int64_t>& shape);
void save(const std::filesystem::path& path, const std::uint8_t* data,
          const std::vector<std::int64_t>& shape);

}  // namespace diffuser::npy
