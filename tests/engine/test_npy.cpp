#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/npy.hpp>

using namespace diffuser;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {
fs::path temp_dir() {
  auto d = fs::temp_directory_path() / ("diffuser_npy_test_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}
void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}
std::string header_bytes(const std::string& dict) {
  std::string d = dict;
  while ((10 + d.size() + 1) % 64) d += ' ';
  d += '\n';
  std::string h("\x93NUMPY\x01\x00", 8);
  h.push_back(static_cast<char>(d.size() & 0xff));
  h.push_back(static_cast<char>(d.size() >> 8));
  return h + d;
}
}  // namespace

TEST_CASE("npy round-trips every supported dtype", "[cpu][engine]") {
  const auto dir = temp_dir();
  const std::vector<float> f = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -8.5f};
  npy::save(dir / "f.npy", f.data(), {2, 3});
  npy::Header h;
  auto back = npy::load_f32(dir / "f.npy", &h, 2);
  REQUIRE(h.shape == std::vector<std::int64_t>{2, 3});
  REQUIRE(h.dtype == npy::DType::f4);
  REQUIRE(back.to_vector() == f);

  const std::vector<double> d = {0.1, 0.2, 0.3};
  npy::save(dir / "d.npy", d.data(), {3});
  REQUIRE(npy::load_f32(dir / "d.npy").to_vector() == std::vector<float>{0.1f, 0.2f, 0.3f});

  const std::vector<std::int32_t> i4 = {0, 5, 1, 7};
  npy::save(dir / "i.npy", i4.data(), {2, 2});
  REQUIRE(npy::load_i64(dir / "i.npy") == std::vector<std::int64_t>{0, 5, 1, 7});
  const std::vector<std::int64_t> i8 = {9, -1};
  npy::save(dir / "l.npy", i8.data(), {2});
  REQUIRE(npy::load_i64(dir / "l.npy") == i8);
  const std::vector<std::uint8_t> u = {1, 0, 1};
  npy::save(dir / "u.npy", u.data(), {3});
  REQUIRE(npy::load_i64(dir / "u.npy") == std::vector<std::int64_t>{1, 0, 1});
  REQUIRE(npy::load_f32(dir / "u.npy").to_vector() == std::vector<float>{1, 0, 1});
  fs::remove_all(dir);
}

TEST_CASE("npy rejects malformed files with the file name", "[cpu][engine]") {
  const auto dir = temp_dir();
  const auto p = dir / "bad.npy";
  write_bytes(p, "hello world, not numpy");
  REQUIRE_THROWS_WITH(npy::load_f32(p), Contains("bad.npy") && Contains("magic"));

  write_bytes(p, header_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), }") + std::string(20, 'x'));
  REQUIRE_THROWS_WITH(npy::load_f32(p), Contains("bad.npy") && Contains("truncated"));

  write_bytes(p, header_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }") + std::string(4, 'x'));
  REQUIRE_THROWS_WITH(npy::load_f32(p), Contains("big-endian"));

  write_bytes(p, header_bytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }") + std::string(8, 'x'));
  REQUIRE_THROWS_WITH(npy::load_f32(p), Contains("unsupported dtype"));

  write_bytes(p, header_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }") + std::string(4, 'x'));
  REQUIRE_THROWS_WITH(npy::load_f32(p), Contains("Fortran"));

  write_bytes(p, header_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }") + std::string(8, 'x'));
  REQUIRE_THROWS_WITH(npy::load_f32(p), Contains("bad dimension"));

  write_bytes(p, std::string("\x93NUMPY\x01\x00\xff", 9));
  REQUIRE_THROWS_WITH(npy::load_f32(p), Contains("truncated"));

  const std::vector<float> f = {1, 2, 3};
  npy::save(p, f.data(), {3});
  REQUIRE_THROWS_WITH(npy::load_f32(p, nullptr, 3), Contains("3-dimensional") && Contains("(3,)"));
  REQUIRE_THROWS_WITH(npy::load_i64(p), Contains("integer"));
  REQUIRE_THROWS_WITH(npy::load_f32(dir / "missing.npy"), Contains("missing.npy") && Contains("cannot open"));
  fs::remove_all(dir);
}

TEST_CASE("npy::save leaves no file behind when it cannot write", "[cpu][engine]") {
  const float x = 1;
  REQUIRE_THROWS_WITH(npy::save("/nonexistent-dir/z.npy", &x, {1}), Contains("z.npy"));
  REQUIRE_FALSE(fs::exists("/nonexistent-dir/z.npy"));
}
