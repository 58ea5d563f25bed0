// The engine's defences against untrusted input: printable excerpts, strict .npy headers, the
// memory budget, and atomic outputs that never write through a planted file.
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <diffuser/engine/atomic_file.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/engine/npy.hpp>
#include <diffuser/engine/sys.hpp>

using namespace diffuser;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

std::string npy_bytes(const std::string& dict, std::size_t data_bytes) {
  std::string d = dict;
  while ((10 + d.size() + 1) % 64) d += ' ';
  d += '\n';
  std::string h("\x93NUMPY\x01\x00", 8);
  h.push_back(static_cast<char>(d.size() & 0xff));
  h.push_back(static_cast<char>(d.size() >> 8));
  return h + d + std::string(data_bytes, '\0');
}

struct Scratch {
  fs::path dir;
  Scratch() {
    std::string t = (fs::temp_directory_path() / "diffuser_rel_XXXXXX").string();
    REQUIRE(::mkdtemp(t.data()));
    dir = t;
  }
  ~Scratch() { fs::remove_all(dir); }
  std::set<std::string> listing() const {
    std::set<std::string> s;
    for (const auto& e : fs::directory_iterator(dir)) s.insert(e.path().filename().string());
    return s;
  }
};

std::vector<std::string> g_created, g_released;

}  // namespace

TEST_CASE("excerpt escapes control bytes and invalid UTF-8, keeps text, cuts long input", "[cpu][engine]") {
  CHECK(excerpt("abc") == "abc");
  CHECK(excerpt("a\x1b[31mb\n\t\x7f") == "a\\x1b[31mb\\x0a\\x09\\x7f");
  CHECK(excerpt("caf\xc3\xa9 \xe2\x86\x92") == "caf\xc3\xa9 \xe2\x86\x92");  // valid UTF-8 stays
  CHECK(excerpt("\xff\xc3") == "\\xff\\xc3");  // invalid and truncated sequences
  CHECK(excerpt("\xc2\x9b") == "\\xc2\\x9b");  // C1 control (8-bit CSI)
  CHECK(excerpt(std::string(1000, 'x'), 10) == "xxxxxxxxxx... (1000 bytes)");
}

TEST_CASE(".npy headers are read as strictly as NumPy writes them", "[cpu][engine]") {
  const auto ok = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24);
  CHECK(npy::parse_header(ok, "a.npy").shape == std::vector<std::int64_t>{2, 3});
  CHECK(npy::decode_f32(ok, "a.npy").size() == 6);
  // Fuzz finding (fuzz_npy, UBSan): an empty array was converted with memcpy into a null pointer.
  const auto empty = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", 0);
  CHECK(npy::decode_f32(empty, "e.npy").empty());
  CHECK(npy::decode_i64(npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (0,), }", 0), "e.npy")
            .empty());
  const auto rejects = [](const std::string& dict, const std::string& what) {
    INFO(dict);
    REQUIRE_THROWS_WITH(npy::parse_header(npy_bytes(dict, 64), "a.npy"),
                        Contains("a.npy: ") && Contains(what));
  };
  rejects("{'descr': '<f4', 'descr': '<i4', 'fortran_order': False, 'shape': (1,), }",
          "the key 'descr' appears twice");
  rejects("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'shape': (2,), }",
          "the key 'shape' appears twice");
  rejects("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", "unexpected key 'extra'");
  rejects("{'descr': '<f4', 'fortran_order': False}", "no 'shape' entry");
  rejects("{'descr': '<f4', 'fortran_order': False, 'shape': (3)}", "written (N,), with the comma");
  rejects("{'descr': '<f4', 'fortran_order': False, 'shape': [3]}", "shape must be a tuple");
  rejects("{'descr': '<f4', 'fortran_order': maybe, 'shape': (3,)}", "fortran_order must be True or False");
  rejects("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} trailing",
          "unexpected text after the header dict");
  rejects("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,)}", "bad dimension '-3'");
  rejects("{'descr': '\x1b[2J', 'fortran_order': False, 'shape': (3,)}", "unsupported dtype '\\x1b[2J'");
  // NumPy's max_header_size: a 20,000-byte header is refused before it is read.
  std::string big("\x93NUMPY\x02\x00", 8);
  big += std::string("\x20\x4e\x00\x00", 4) + std::string(20000, ' ');
  REQUIRE_THROWS_WITH(npy::parse_header(big, "b.npy"), Contains("exceeds the limit of 10000 bytes"));
}

TEST_CASE("the memory budget refuses absurd sizes and honours RLIMIT_AS", "[cpu][engine]") {
  REQUIRE_THROWS_WITH(require_memory(1e30, "x.npy: array (huge,)"),
                      Contains("not enough memory: x.npy: array (huge,) needs about"));
  REQUIRE_NOTHROW(require_memory(std::int64_t{1024}, "a little"));
#if !defined(__SANITIZE_ADDRESS__)
  // In a child: with ulimit -v at 1 GiB above what is mapped, 4 GiB are refused whatever is free.
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    rlimit r{};
    std::int64_t mapped = 0;
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("VmSize:", 0) == 0) mapped = std::stoll(line.substr(7)) * 1024;
    r.rlim_cur = r.rlim_max = static_cast<rlim_t>(mapped + (std::int64_t{1} << 30));
    if (::setrlimit(RLIMIT_AS, &r) != 0) ::_exit(2);
    rlimit now{};
    // qemu-user accepts the call but keeps RLIMIT_AS to itself (it would bound the emulator)
    if (::getrlimit(RLIMIT_AS, &now) != 0 || now.rlim_cur != r.rlim_cur) ::_exit(5);
    if (available_memory_bytes() > (std::int64_t{1} << 30)) ::_exit(3);
    try {
      require_memory(std::int64_t{4} << 30, "four GiB");
    } catch (const Error&) {
      ::_exit(0);
    }
    ::_exit(4);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 5) {
    WARN("RLIMIT_AS is not applied here (an emulator such as qemu-user): the limit part is not tested");
    return;
  }
  CHECK(WEXITSTATUS(status) == 0);
#endif
}

TEST_CASE("atomic outputs: random exclusive temporary names, symlinks never followed, hooks told",
          "[cpu][engine]") {
  Scratch s;
  g_created.clear();
  g_released.clear();
  set_temp_path_hooks({[](const char* p, bool) { g_created.emplace_back(p); },
                       [](const char* p) { g_released.emplace_back(p); }});
  const fs::path target = s.dir / "out.bin";
  {
    AtomicOutput a(target), b(target);  // two writers at once: two different names
    const auto names = s.listing();
    REQUIRE(names.size() == 2);
    for (const auto& n : names) {
      CHECK(n.rfind("out.bin.tmp-", 0) == 0);
      CHECK(n.size() == std::string("out.bin.tmp-").size() + 16);
    }
    a.stream() << "hello";
    a.commit();
  }  // b is dropped: its file goes
  CHECK(s.listing() == std::set<std::string>{"out.bin"});
  CHECK(g_created.size() == 2);
  CHECK(g_released.size() == 2);
  std::ifstream in(target);
  std::string text;
  in >> text;
  CHECK(text == "hello");

  // A symlink at the target is replaced by the new file; what it pointed to is untouched.
  const fs::path victim = s.dir / "victim.txt";
  std::ofstream(victim) << "precious";
  fs::remove(target);
  fs::create_symlink(victim, target);
  {
    AtomicOutput a(target);
    a.stream() << "new";
    a.commit();
  }
  CHECK_FALSE(fs::is_symlink(target));
  std::ifstream v(victim);
  v >> text;
  CHECK(text == "precious");
  set_temp_path_hooks({});

  // Errors name the target, not the temporary file.
  REQUIRE_THROWS_WITH(AtomicOutput(s.dir / "missing" / "x.npy"),
                      Contains("missing/x.npy: cannot open for writing"));
}
