// Pattern plugins end to end: the example plugin against its definition, and each broken plugin
// against the error it must produce.
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include <catch2/catch.hpp>

#include <diffuser/graphs/pattern.hpp>
#include <diffuser/graphs/plugin_loader.hpp>

#include "../../graphs/src/plugin_frames.hpp"

#include "graph_test_util.hpp"

using Catch::Contains;
using diffuser::Csr;
using diffuser::Error;
using diffuser::graphs::build_pattern;
using diffuser::graphs::plugin_edges;
using diffuser::graphs::testing::Dense;

namespace {

// The example plugin's definition: token i attends to i-W .. i.
Dense causal_window(std::int64_t n, std::int64_t w) {
  Dense d(n);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      if (j <= i && i - j <= w) d.edge(j, i);
  return d;
}

// Whether this system lets a process read its own memory through process_vm_readv (qemu-user and
// some sandboxes do not): without it an over-long emit batch is a contained crash, not a refusal.
bool checked_reads() {
  int x = 1, y = 0;
  iovec local{&y, sizeof y}, remote{&x, sizeof x};
  return ::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(sizeof x) || (errno != ENOSYS && errno != EPERM);
}

}  // namespace

TEST_CASE("the example plugin builds a causal window", "[cpu][graphs]") {
  const std::string lib = DIFFUSER_EXAMPLE_PLUGIN;
  for (const std::int64_t n : {1, 2, 17, 300, 5000})
    for (const std::int64_t w : {0, 1, 3, 40}) {
      INFO("n = " << n << ", W = " << w);
      CHECK(Csr::from_edges(plugin_edges(lib, std::to_string(w), n, 0)) == causal_window(n, w).to_csr());
    }
  // No ARGS: the plugin's default window of 16.
  CHECK(build_pattern("plugin:" + lib, 100) == causal_window(100, 16).to_csr());

  // As a term of an expression, united with the others.
  Dense expected = causal_window(50, 2);
  for (std::int64_t j = 0; j < 50; ++j) {
    expected.edge(j, 0);
    expected.edge(0, j);
  }
  CHECK(build_pattern("plugin:" + lib + ":2+global:1", 50) == expected.to_csr());

  // Bad ARGS: the plugin's own message, with the library named.
  REQUIRE_THROWS_WITH(
      build_pattern("plugin:" + lib + ":wide", 10),
      Contains("plugin " + lib +
               " failed: causal_window: ARGS must be a non-negative window width, got 'wide'"));
}

TEST_CASE("broken plugins give clear errors", "[cpu][graphs]") {
  SECTION("wrong ABI version") {
    REQUIRE_THROWS_AS(plugin_edges(DIFFUSER_TEST_PLUGIN_BAD_ABI, "", 10, 0), Error);
    REQUIRE_THROWS_WITH(
        plugin_edges(DIFFUSER_TEST_PLUGIN_BAD_ABI, "", 10, 0),
        Contains(DIFFUSER_TEST_PLUGIN_BAD_ABI) && Contains("built for ABI v2, this diffuser speaks v1"));
  }
  SECTION("an edge out of range") {
    REQUIRE_THROWS_WITH(plugin_edges(DIFFUSER_TEST_PLUGIN_OUT_OF_RANGE, "", 10, 0),
                        Contains(DIFFUSER_TEST_PLUGIN_OUT_OF_RANGE) && Contains("edge 3 (9 -> 10)") &&
                            Contains("outside [0, 10)"));
    REQUIRE_THROWS_WITH(build_pattern(std::string("self+plugin:") + DIFFUSER_TEST_PLUGIN_OUT_OF_RANGE, 4),
                        Contains("(3 -> 4)"));
  }
  SECTION("a failure the plugin reports, with what it was given") {
    REQUIRE_THROWS_WITH(build_pattern(std::string("plugin:") + DIFFUSER_TEST_PLUGIN_FAILS + ":a,b=c", 12, 77),
                        Contains(std::string("plugin ") + DIFFUSER_TEST_PLUGIN_FAILS +
                                 " failed: cannot build: n=12 seed=77 args='a,b=c'"));
  }
  SECTION("a missing symbol") {
    REQUIRE_THROWS_WITH(
        plugin_edges(DIFFUSER_TEST_PLUGIN_NO_BUILD, "", 10, 0),
        Contains(DIFFUSER_TEST_PLUGIN_NO_BUILD) && Contains("missing symbol diffuser_plugin_build"));
  }
  SECTION("a library that does not exist") {
    diffuser::graphs::testing::TempDir dir("plugins");
    const std::string missing = (dir / "libnothere.so").string();
    REQUIRE_THROWS_AS(build_pattern("plugin:" + missing + ":3", 10), Error);
    REQUIRE_THROWS_WITH(build_pattern("plugin:" + missing + ":3", 10),
                        Contains("plugin " + missing + ": cannot load:") && Contains("libnothere.so"));
    // Not a shared library at all.
    const std::string junk = dir.write("libjunk.so", "not an ELF file\n").string();
    REQUIRE_THROWS_WITH(plugin_edges(junk, "", 10, 0), Contains("plugin " + junk + ": cannot load:"));
  }
}

TEST_CASE("a misbehaving plugin ends with one error naming it, never a crash of diffuser", "[cpu][graphs]") {
  using diffuser::graphs::PluginOptions;
  const auto fails_with = [](const std::string& lib, const std::string& what) {
    INFO(lib);
    REQUIRE_THROWS_AS(plugin_edges(lib, "", 10, 0), Error);
    REQUIRE_THROWS_WITH(plugin_edges(lib, "", 10, 0), Contains("plugin " + lib) && Contains(what));
  };
  fails_with(DIFFUSER_TEST_PLUGIN_CRASHES, "crashed in diffuser_plugin_build: SIGSEGV");
  fails_with(DIFFUSER_TEST_PLUGIN_ABORTS, "crashed in diffuser_plugin_build: SIGABRT");
  fails_with(DIFFUSER_TEST_PLUGIN_FPE, "crashed in diffuser_plugin_build: SIGFPE");
  fails_with(DIFFUSER_TEST_PLUGIN_CTOR_CRASH, "crashed while loading (in a constructor?): SIGSEGV");
  fails_with(DIFFUSER_TEST_PLUGIN_EXITS,
             "ended its process with exit status 0 in diffuser_plugin_build without returning");
  fails_with(DIFFUSER_TEST_PLUGIN_OVERREAD,
             checked_reads() ? "emit was given 1099511627776 pairs" : "crashed in diffuser_plugin_build: SIGSEGV");

  PluginOptions quick;
  quick.idle_timeout_s = 0.5;
  const std::string hangs = DIFFUSER_TEST_PLUGIN_HANGS;
  REQUIRE_THROWS_WITH(plugin_edges(hangs, "", 10, 0, quick),
                      Contains("plugin " + hangs + " did not finish: no edges and no result for 0.5 s"));

  // A thread the plugin leaves behind ends with the plugin's process; the result stands.
  const Csr g = Csr::from_edges(plugin_edges(DIFFUSER_TEST_PLUGIN_STRAY_THREAD, "", 50, 0));
  CHECK(g.num_edges() == 50);
}

TEST_CASE("the plugin frame decoder trusts nothing it receives", "[cpu][graphs]") {
  using diffuser::EdgeList;
  using diffuser::graphs::detail::Frame;
  using diffuser::graphs::detail::FrameDecoder;
  using diffuser::graphs::detail::make_frame;
  const auto pairs = [](std::initializer_list<std::int32_t> ids) {
    std::vector<std::int32_t> v(ids);
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
  };
  EdgeList edges;
  {
    FrameDecoder d("p.so", 4, edges);
    const std::string stream = make_frame(Frame::loaded, {}) + make_frame(Frame::edges, pairs({0, 1, 3, 2})) +
                               make_frame(Frame::done, {});
    for (char c : stream) d.feed(std::string_view(&c, 1));  // byte by byte, as a pipe may deliver it
    CHECK(d.done());
    CHECK(edges.src == std::vector<std::int32_t>{0, 3});
    CHECK(edges.dst == std::vector<std::int32_t>{1, 2});
  }
  const auto rejects = [&](const std::string& bytes, const std::string& what) {
    EdgeList e;
    FrameDecoder d("p.so", 4, e);
    REQUIRE_THROWS_WITH(d.feed(make_frame(Frame::loaded, {}) + bytes),
                        Contains("plugin p.so: ") && Contains(what));
  };
  rejects(make_frame(Frame::edges, pairs({0, 4})), "emitted edge 0 (0 -> 4) has an endpoint outside [0, 4)");
  rejects(make_frame(Frame::edges, "abc"), "garbled output");
  rejects(std::string("Z") + std::string(8, '\0'), "garbled output");
  rejects(make_frame(Frame::done, {}) + make_frame(Frame::done, {}), "data after its result");
  std::string huge(9, '\0');
  huge[0] = 'E';
  huge[8] = 0x7f;  // a length of about 2^63 bytes
  rejects(huge, "garbled output");
}
