// `diffuser layer` end to end (init weights, forward, backward, batches, bench, errors with no
// partial outputs) and `diffuser attend --grad-out/--grads-dir`, each against the library run here.
#include <catch2/catch.hpp>

#include <fstream>

#include <diffuser/attention/layer.hpp>
#include <diffuser/attention/params.hpp>
#include <diffuser/attention/safetensors.hpp>
#include <diffuser/diffusion/diffusion_backward.hpp>
#include <diffuser/engine/device.hpp>
#include <diffuser/engine/npy.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "attention/attention_test_util.hpp"
#include "attention/layer_reference.hpp"
#include "tools/cli_reference.hpp"
#include "tools/cli_runner.hpp"

using namespace diffuser;
using namespace diffuser::attention;
using namespace diffuser::test::cli;
using Catch::Contains;
namespace fs = std::filesystem;
namespace g = diffuser::test::grad;
namespace ta = diffuser::test::attn;

namespace {

const char* kConfig = R"({"hidden_size": 16, "num_attention_heads": 2, "num_hidden_layers": 2,
  "intermediate_size": 32, "attention_window": [8, 4], "num_rand": 2, "num_glob": 1,
  "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.2, "vocab_size": 30,
  "max_position_embeddings": 70, "diffusion_hops": 3, "initializer_range": 0.3})";

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream f(p);
  f << s;
}

RunResult run_ok(const std::vector<std::string>& args, const TempDir& dir) {
  RunResult r = run_cli(args, dir.path());
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE_FALSE(r.signaled);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.err.empty());
  return r;
}

RunResult run_fail(const std::vector<std::string>& args, const TempDir& dir, int code) {
  RunResult r = run_cli(args, dir.path());
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE_FALSE(r.signaled);
  REQUIRE(r.exit_code == code);
  REQUIRE(r.err_lines() == 1);
  return r;
}

std::vector<double> load(const fs::path& p) {
  const auto b = npy::load_f32(p);
  return ta::to_vec(b.data(), b.size());
}

struct Run {
  std::vector<double> y, dx;
  LayerParams grads;
};

// The same layer run in this process: weights from the file, the batch as the CLI builds it.
Run library_run(const fs::path& weights, const std::vector<double>& x,
                const std::vector<std::int64_t>& lengths, const std::vector<std::uint8_t>& mask,
                const std::vector<double>* dy, RunMode mode, int layer = 0, const std::string& prefix = "") {
  const ModelConfig c = ModelConfig::from_json(kConfig);
  const LayerOptions o = LayerOptions::from_config(c);
  LayerParams p(o.shape());
  read_layer(safetensors::Reader::open(weights), p, prefix);
  GraphBatch batch = GraphBatch::from_lengths(lengths, c.pattern_for_layer(layer), c.graph_seed);
  if (!mask.empty()) batch.mask = Buffer<std::uint8_t>::from_host(mask);
  const std::int64_t T = batch.tokens();
  const Matrix<float> xm = ta::matrix_from(x, T, 16);
  Matrix<float> y(T, 16);
  LayerCache cache;
  layer_forward(o, p, batch, xm.view(), y.view(), mode, &cache);
  Run r;
  r.y = ta::to_vec(y);
  if (dy) {
    r.grads = LayerParams(o.shape());
    zero(r.grads);
    Matrix<float> dx(T, 16);
    const Matrix<float> dym = ta::matrix_from(*dy, T, 16);
    layer_backward(o, p, batch, xm.view(), cache, dym.view(), dx.view(), r.grads, mode);
    r.dx = ta::to_vec(dx);
  }
  return r;
}

}  // namespace

TEST_CASE("diffuser layer: init weights, forward, backward against the library", "[cpu][attention][cli]") {
  TempDir dir;
  write_text(dir / "c.json", kConfig);
  run_ok({"layer", "--config", "c.json", "--init-weights", "w.safetensors", "--seed", "3"}, dir);
  const std::int64_t T = 40;
  const auto x = ta::random_values(T * 16, 1), dy = ta::random_values(T * 16, 2);
  std::vector<float> xf(x.begin(), x.end()), dyf(dy.begin(), dy.end());
  npy::save(dir / "x.npy", xf.data(), {T, 16});
  npy::save(dir / "dy.npy", dyf.data(), {T, 16});

  SECTION("inference forward") {
    const auto r = run_ok(
        {"layer", "--config", "c.json", "--weights", "w.safetensors", "--x", "x.npy", "--out", "y.npy"}, dir);
    CHECK_THAT(r.out, Contains("post-LN") && Contains("inference"));
    CHECK(g::rel(load(dir / "y.npy"), library_run(dir / "w.safetensors", x, {T}, {}, nullptr, {}).y) <= 1e-6);
  }
  SECTION("training forward and backward") {
    run_ok({"layer",         "--config", "c.json",     "--weights", "w.safetensors",
            "--x",           "x.npy",    "--out",      "y.npy",     "--train",
            "--seed",        "5",        "--grad-out", "dy.npy",    "--grads-out",
            "g.safetensors", "--dx-out", "dx.npy",     "--threads", "1"},
           dir);
    Run ref = library_run(dir / "w.safetensors", x, {T}, {}, &dy, {true, 5, 0});
    CHECK(g::rel(load(dir / "y.npy"), ref.y) <= 1e-6);
    CHECK(g::rel(load(dir / "dx.npy"), ref.dx) <= 1e-6);
    const auto gr = safetensors::Reader::open(dir / "g.safetensors");
    CHECK(gr.metadata().at("layer") == "0");
    visit(ref.grads, "", [&](const std::string& name, float* data, const std::vector<std::int64_t>& shape) {
      const auto got = gr.read_f32(name, &shape);
      std::int64_t n = 1;
      for (auto s : shape) n *= s;
      CHECK(g::rel(ta::to_vec(got.data(), n), ta::to_vec(data, n)) <= 1e-6);
    });
    // The same seed reproduces the same outputs; recompute hop memory gives the same gradients.
    run_ok({"layer",      "--config", "c.json",   "--weights", "w.safetensors", "--x",
            "x.npy",      "--out",    "y2.npy",   "--train",   "--seed",        "5",
            "--grad-out", "dy.npy",   "--dx-out", "dx2.npy",   "--hop-memory",  "recompute",
            "--threads",  "1"},
           dir);
    CHECK(read_file(dir / "y.npy") == read_file(dir / "y2.npy"));
    CHECK(read_file(dir / "dx.npy") == read_file(dir / "dx2.npy"));
  }
  SECTION("a padded (B, N, d) batch with a mask, and --lengths") {
    std::vector<std::uint8_t> mask(static_cast<std::size_t>(T), 1);
    for (int i = 30; i < 40; ++i) mask[static_cast<std::size_t>(i)] = 0;
    npy::save(dir / "x3.npy", xf.data(), {2, 20, 16});
    npy::save(dir / "m.npy", mask.data(), {2, 20});
    run_ok({"layer", "--config", "c.json", "--weights", "w.safetensors", "--x", "x3.npy", "--mask", "m.npy",
            "--out", "y3.npy"},
           dir);
    npy::Header h;
    npy::load_f32(dir / "y3.npy", &h);
    CHECK(h.shape == std::vector<std::int64_t>{2, 20, 16});
    CHECK(g::rel(load(dir / "y3.npy"),
                 library_run(dir / "w.safetensors", x, {20, 20}, mask, nullptr, {}).y) <= 1e-6);
    run_ok({"layer", "--config", "c.json", "--weights", "w.safetensors", "--x", "x.npy", "--lengths", "25,15",
            "--out", "y4.npy"},
           dir);
    CHECK(g::rel(load(dir / "y4.npy"), library_run(dir / "w.safetensors", x, {25, 15}, {}, nullptr, {}).y) <=
          1e-6);
  }
  SECTION("a model file: --layer picks encoder.layer.I. and its attention window") {
    run_ok({"layer", "--config", "c.json", "--init-weights", "m.safetensors", "--model", "--seed", "4"}, dir);
    const auto r = safetensors::Reader::open(dir / "m.safetensors");
    CHECK(r.contains("embeddings.word_embeddings.weight"));
    CHECK(r.contains("classifier.out_proj.bias"));
    const auto out = run_ok({"layer", "--config", "c.json", "--weights", "m.safetensors", "--layer", "1",
                             "--x", "x.npy", "--out", "y.npy"},
                            dir);
    CHECK_THAT(out.out, Contains("encoder.layer.1.") && Contains("blocks:4"));
    CHECK(g::rel(load(dir / "y.npy"),
                 library_run(dir / "m.safetensors", x, {T}, {}, nullptr, {}, 1, "encoder.layer.1.").y) <=
          1e-6);
  }
}

TEST_CASE("diffuser layer: errors exit 1 or 2 with one line and leave no outputs", "[cpu][attention][cli]") {
  TempDir dir;
  write_text(dir / "c.json", kConfig);
  run_ok({"layer", "--config", "c.json", "--init-weights", "w.safetensors"}, dir);
  const std::vector<float> x(20 * 16, 0.5f), wide(20 * 17, 0.5f), dy_bad(19 * 16, 0.1f);
  npy::save(dir / "x.npy", x.data(), {20, 16});
  npy::save(dir / "wide.npy", wide.data(), {20, 17});
  npy::save(dir / "dyb.npy", dy_bad.data(), {19, 16});
  // A weights file without one tensor.
  {
    const auto r = safetensors::Reader::open(dir / "w.safetensors");
    safetensors::Writer w;
    for (const auto& t : r.tensors())
      if (t.name != "output.dense.bias") {
        const auto v = r.read_f32(t.name);
        w.add(t.name, v.data(), t.shape);
      }
    w.write(dir / "partial.safetensors");
  }
  write_text(dir / "bad.json", R"({"hidden_size": 10, "num_attention_heads": 3})");
  const auto before = dir.listing();
  auto base = [](std::vector<std::string> extra) {
    std::vector<std::string> a{"layer", "--config", "c.json"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  CHECK_THAT(
      run_fail(base({"--weights", "partial.safetensors", "--x", "x.npy", "--out", "y.npy"}), dir, 1).err,
      Contains("no tensor 'output.dense.bias'"));
  CHECK_THAT(run_fail(base({"--weights", "w.safetensors", "--x", "wide.npy", "--out", "y.npy"}), dir, 1).err,
             Contains("17 features") && Contains("hidden_size is 16"));
  CHECK_THAT(run_fail(base({"--weights", "w.safetensors", "--x", "x.npy", "--out", "y.npy", "--grad-out",
                            "dyb.npy", "--dx-out", "dx.npy"}),
                      dir, 1)
                 .err,
             Contains("dyb.npy") && Contains("(19, 16)"));
  CHECK_THAT(run_fail(base({"--weights", "w.safetensors", "--x", "x.npy", "--out", "y.npy", "--grads-out",
                            "g.safetensors"}),
                      dir, 2)
                 .err,
             Contains("need --grad-out"));
  CHECK_THAT(
      run_fail(base({"--weights", "w.safetensors", "--x", "x.npy", "--out", "y.npy", "--layer", "2"}), dir, 2)
          .err,
      Contains("--layer must be in [0, 2)"));
  CHECK_THAT(
      run_fail(base({"--weights", "w.safetensors", "--x", "x.npy", "--out", "y.npy", "--lengths", "5,5"}),
               dir, 1)
          .err,
      Contains("add up to 10"));
  CHECK_THAT(run_fail(base({"--weights", "x.npy", "--x", "x.npy", "--out", "y.npy"}), dir, 1).err,
             Contains("x.npy"));
  CHECK_THAT(
      run_fail(base({"--weights", "w.safetensors", "--x", "x.npy", "--out", "y.npy", "--bogus"}), dir, 2).err,
      Contains("--bogus"));
  CHECK_THAT(run_fail(base({"--weights", "w.safetensors", "--x", "x.npy", "--out", "y.npy", "--grad-out",
                            "dyb.npy", "--dx-out", "dx.npy", "--head-groups", "3"}),
                      dir, 2)
                 .err,
             Contains("--head-groups must be 0 (automatic) or a divisor of the 2 heads, got 3"));
  CHECK_THAT(run_fail({"layer", "--config", "bad.json", "--init-weights", "z.safetensors"}, dir, 1).err,
             Contains("bad.json") && Contains("num_attention_heads"));
  CHECK_THAT(
      run_fail(base({"--weights", "w.safetensors", "--x", "x.npy", "--out", "y.npy", "--backend", "tpu"}),
               dir, 2)
          .err,
      Contains("--backend") && Contains("tpu"));
  if (!cuda_available()) {  // without a usable GPU (or CUDA in the build) --backend cuda says why
    CHECK_THAT(
        run_fail(base({"--weights", "w.safetensors", "--x", "x.npy", "--out", "y.npy", "--backend", "cuda"}),
                 dir, 1)
            .err,
        Contains("cuda backend cannot be used"));
    CHECK_THAT(run_fail(base({"--bench", "--n", "50", "--backend", "cuda"}), dir, 1).err,
               Contains("cuda backend cannot be used"));
  }
  CHECK(dir.listing() == before);
}

TEST_CASE("diffuser layer --bench runs and writes its JSON", "[cpu][attention][cli]") {
  TempDir dir;
  write_text(dir / "c.json", kConfig);
  const auto r = run_ok(
      {"layer", "--config", "c.json", "--bench", "--n", "300", "--reps", "1", "--json", "b.json"}, dir);
  CHECK_THAT(r.out, Contains("forward + backward") && Contains("graph backward") && Contains("products"));
  CHECK_THAT(r.out, Contains("head groups:"));
  const auto g2 = run_ok({"layer", "--config", "c.json", "--bench", "--n", "300", "--reps", "1",
                          "--head-groups", "2", "--json", "g2.json"},
                         dir);
  CHECK_THAT(g2.out, Contains("2 of 1 heads each (--head-groups)"));
  CHECK_THAT(read_file(dir / "g2.json"), Contains("\"head_groups\":2"));
  CHECK_THAT(read_file(dir / "b.json"), Contains("\"step_ms\"") && Contains("\"impl\":\"diffuser-cpu\""));
}

TEST_CASE("diffuser attend --grad-out writes dQ, dK, dV equal to the library's backward",
          "[cpu][attention][cli]") {
  TempDir dir;
  const Problem p = random_problem(30, 2, 8, 5);
  write_problem(p, dir.path());
  const auto dz = ta::random_values(static_cast<std::size_t>(p.n * p.h * p.d), 9);
  std::vector<float> dzf(dz.begin(), dz.end());
  npy::save(dir / "dz.npy", dzf.data(), {p.n, p.h, p.d});
  const auto hops = GENERATE(as<std::string>{}, "0", "3");
  run_ok({"attend", "--graph", "g.txt", "--q", "q.npy", "--k", "k.npy", "--v", "v.npy", "--out", "z.npy",
          "--hops", hops, "--grad-out", "dz.npy", "--grads-dir", "grads"},
         dir);
  const Csr graph = Csr::from_edges([&] {
    EdgeList el;
    el.n = p.n;
    for (std::int64_t i = 0; i < p.n; ++i)
      for (std::int64_t j = 0; j < p.n; ++j)
        if (p.adj[static_cast<std::size_t>(i * p.n + j)])
          el.add(static_cast<std::int32_t>(j), static_cast<std::int32_t>(i));
    return el;
  }());
  const ReverseGraph rg(graph);
  auto t = [&](const std::vector<float>& v) { return tensor3_view(v.data(), p.n, p.h, p.d); };
  Tensor3<float> dq(p.n, p.h, p.d), dk(p.n, p.h, p.d), dv(p.n, p.h, p.d);
  diffusion::diffuse_backward(
      graph, rg, t(p.q), t(p.k), t(p.v), {}, diffusion::Coefficients::ppr(std::stoi(hops), 0.1),
      tensor3_view<const float>(dzf.data(), p.n, p.h, p.d), dq.view(), dk.view(), dv.view());
  CHECK(g::rel(load(dir / "grads" / "dQ.npy"), ta::to_vec(dq)) <= 1e-6);
  CHECK(g::rel(load(dir / "grads" / "dK.npy"), ta::to_vec(dk)) <= 1e-6);
  CHECK(g::rel(load(dir / "grads" / "dV.npy"), ta::to_vec(dv)) <= 1e-6);
}

TEST_CASE("diffuser attend backward errors leave no outputs", "[cpu][attention][cli]") {
  TempDir dir;
  const Problem p = random_problem(20, 2, 4, 6);
  write_problem(p, dir.path());
  const std::vector<float> bad(19 * 2 * 4, 0.0f);
  npy::save(dir / "dzb.npy", bad.data(), {19, 2, 4});
  const auto before = dir.listing();
  std::vector<std::string> a{"attend", "--graph", "g.txt", "--q",   "q.npy", "--k",
                             "k.npy",  "--v",     "v.npy", "--out", "z.npy"};
  auto with = [&](std::vector<std::string> extra) {
    auto b = a;
    b.insert(b.end(), extra.begin(), extra.end());
    return b;
  };
  CHECK_THAT(run_fail(with({"--grad-out", "dzb.npy"}), dir, 2).err, Contains("--grads-dir"));
  CHECK_THAT(run_fail(with({"--grads-dir", "gd"}), dir, 2).err, Contains("--grad-out"));
  CHECK_THAT(run_fail(with({"--grad-out", "dzb.npy", "--grads-dir", "gd"}), dir, 1).err,
             Contains("dzb.npy") && Contains("(19, 2, 4)"));
  CHECK_THAT(run_fail(with({"--grad-out", "dzb.npy", "--grads-dir", "nothere/gd"}), dir, 1).err,
             Contains("does not exist"));
  CHECK(dir.listing() == before);
}
