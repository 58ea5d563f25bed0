// safetensors and config files: round trips, and a clear error for every kind of malformed,
// truncated or mismatched file.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>

#include <diffuser/attention/config.hpp>
#include <diffuser/attention/model.hpp>
#include <diffuser/attention/params.hpp>
#include <diffuser/attention/safetensors.hpp>
#include <diffuser/engine/error.hpp>

#include "tools/cli_runner.hpp"

using namespace diffuser;
using namespace diffuser::attention;
using Catch::Contains;
namespace st = diffuser::safetensors;
namespace fs = std::filesystem;
using diffuser::test::cli::TempDir;

namespace {

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A file with the given header text and `data` bytes.
std::string file_with(const std::string& header, std::size_t data) {
  return le64(header.size()) + header + std::string(data, '\0');
}

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string open_error(const fs::path& p) {
  try {
    st::Reader::open(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("safetensors round trip: F32 exact, BF16 rounded, metadata, name order",
          "[cpu][attention][safetensors]") {
  TempDir dir;
  const std::vector<float> a{1.5f, -2.25f, 3.0f, 1e-20f, -0.0f, 7.0f};
  const std::vector<float> b{0.1f, 0.2f, 0.3f};
  st::Writer w;
  w.add("zeta.weight", a.data(), {2, 3});
  w.add("alpha", b.data(), {3});
  w.add("empty", b.data(), {0, 4});
  w.set_metadata("format", "pt");
  w.write(dir / "f.safetensors");
  const auto r = st::Reader::open(dir / "f.safetensors");
  REQUIRE(r.tensors().size() == 3);
  CHECK(r.tensors()[0].name == "alpha");
  CHECK(r.metadata().at("format") == "pt");
  CHECK(r.read_f32("zeta.weight") == a);
  CHECK(r.read_f32("alpha") == b);
  CHECK(r.read_f32("empty").empty());
  const std::vector<std::int64_t> shape{2, 3};
  CHECK(r.find("zeta.weight")->shape == shape);
  // Header padded to 8 bytes, data right after it.
  const std::string bytes = w.serialize();
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  CHECK(n % 8 == 0);
  CHECK(bytes.size() == 8 + n + (6 + 3) * 4);

  st::Writer wb(st::Writer::Storage::bf16);
  wb.add("x", a.data(), {6});
  wb.write(dir / "b.safetensors");
  const auto rb = st::Reader::open(dir / "b.safetensors");
  CHECK(rb.find("x")->dtype == st::DType::BF16);
  const auto back = rb.read_f32("x");
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(back[i] == Approx(a[i]).epsilon(1e-2).margin(1e-30));
  CHECK(back[0] == 1.5f);
  REQUIRE_THROWS_WITH(w.add("alpha", b.data(), {3}), Contains("twice"));
}

TEST_CASE("safetensors: F64 and F16 tensors are read as float32", "[cpu][attention][safetensors]") {
  TempDir dir;
  std::string data;
  const double d[2] = {0.5, -3.25};
  data.append(reinterpret_cast<const char*>(d), 16);
  const std::uint16_t h[2] = {0x3c00, 0xc500};  // 1.0, -5.0
  data.append(reinterpret_cast<const char*>(h), 4);
  std::string header =
      R"({"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"b":{"dtype":"F16","shape":[2],"data_offsets":[16,20]}})";
  write(dir / "m.safetensors", le64(header.size()) + header + data);
  const auto r = st::Reader::open(dir / "m.safetensors");
  CHECK(r.read_f32("a") == std::vector<float>{0.5f, -3.25f});
  CHECK(r.read_f32("b") == std::vector<float>{1.0f, -5.0f});
}

TEST_CASE("safetensors: every malformed file is refused with a message naming it",
          "[cpu][attention][safetensors]") {
  TempDir dir;
  const fs::path p = dir / "bad.safetensors";
  const std::string ok_entry = R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  struct Bad {
    std::string bytes, message;
  };
  const std::vector<Bad> cases = {
      {"", "truncated"},
      {"abc", "truncated"},
      {le64(1ull << 40), "exceeds the limit"},
      {le64(64) + "{}", "truncated"},
      {file_with("{not json", 0), "not valid JSON"},
      {file_with("[1, 2]", 0), "not a JSON object"},
      {file_with(R"({"t": 5})", 0), "is not an object"},
      {file_with(R"({"t":{"shape":[2],"data_offsets":[0,8]}})", 8), "no dtype"},
      {file_with(R"({"t":{"dtype":"F32","data_offsets":[0,8]}})", 8), "no shape"},
      {file_with(R"({"t":{"dtype":"F32","shape":[2]}})", 8), "data_offsets"},
      {file_with(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8), "data_offsets"},
      {file_with(R"({"t":{"dtype":"Q8","shape":[2],"data_offsets":[0,8]}})", 8), "unknown dtype 'Q8'"},
      {file_with(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "bad shape"},
      {file_with(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "end before they begin"},
      {file_with(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4), "truncated"},
      {file_with(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "needs 12"},
      {file_with(
           R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"u":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
           12),
       "overlaps"},
      {file_with(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12), "hole"},
      {file_with("{" + ok_entry + "}", 12), "trailing bytes"},
      {file_with(R"({"__metadata__":{"a":1},)" + ok_entry + "}", 8), "not a string"},
      {file_with(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,-8]}})", 8), "bad data offset"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.message);
    write(p, c.bytes);
    const std::string e = open_error(p);
    CHECK_THAT(e, Contains(c.message));
    CHECK_THAT(e, Contains(p.string()));
  }
  CHECK_THAT(open_error(dir / "missing.safetensors"), Contains("no such file"));
  CHECK_THAT(open_error(dir.path()), Contains("not a regular file"));
}

TEST_CASE("safetensors: missing tensors, wrong shapes and wrong dtypes on read",
          "[cpu][attention][safetensors]") {
  TempDir dir;
  std::string header =
      R"({"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[16,32]}})";
  write(dir / "f.safetensors", le64(header.size()) + header + std::string(32, '\0'));
  const auto r = st::Reader::open(dir / "f.safetensors");
  REQUIRE_THROWS_WITH(r.read_f32("nope"), Contains("no tensor 'nope'") && Contains("ids, w"));
  const std::vector<std::int64_t> want{4};
  REQUIRE_THROWS_WITH(r.read_f32("w", &want), Contains("has shape (2, 2) but (4,) is expected"));
  REQUIRE_THROWS_WITH(r.read_f32("ids"), Contains("dtype I64"));
}

TEST_CASE("layer and model weights: round trip, prefixes, mismatched files",
          "[cpu][attention][safetensors]") {
  TempDir dir;
  const LayerShape shape{16, 4, 32};
  LayerParams p(shape);
  init_layer(p, 0.02, 3, 0);
  st::Writer w;
  write_layer(w, p, "encoder.layer.2.");
  w.write(dir / "l.safetensors");
  const auto r = st::Reader::open(dir / "l.safetensors");
  CHECK(r.tensors().size() == 16);
  REQUIRE(find_layer_prefix(r, 2) == "encoder.layer.2.");
  REQUIRE_THROWS_WITH(find_layer_prefix(r, 1), Contains("no encoder layer 1"));
  LayerParams q(shape);
  read_layer(r, q, "encoder.layer.2.");
  CHECK(q.qkv.w.buffer().to_vector() == p.qkv.w.buffer().to_vector());
  CHECK(q.ffn_out.b.to_vector() == p.ffn_out.b.to_vector());
  CHECK(q.ln2.gamma.to_vector() == p.ln2.gamma.to_vector());
  // A file for another d_model: the shape error names the tensor.
  LayerParams wide(LayerShape{24, 4, 32});
  REQUIRE_THROWS_WITH(read_layer(r, wide, "encoder.layer.2."),
                      Contains("attention.self.query.weight") && Contains("(16, 16) but (24, 24)"));

  ModelConfig c =
      ModelConfig::from_json(R"({"hidden_size": 16, "num_attention_heads": 2, "num_hidden_layers": 2,
      "intermediate_size": 32, "vocab_size": 50, "max_position_embeddings": 40, "num_labels": 3, "pre_layer_norm": true})");
  ModelParams mp(c);
  init_model(mp, c, 9);
  save_model(dir / "m.safetensors", mp, c);
  const ModelParams back = load_model(dir / "m.safetensors", c);
  CHECK(back.word.buffer().to_vector() == mp.word.buffer().to_vector());
  CHECK(back.layers[1].attn_out.w.buffer().to_vector() == mp.layers[1].attn_out.w.buffer().to_vector());
  CHECK(back.final_ln.gamma.to_vector() == mp.final_ln.gamma.to_vector());
  for (std::int64_t k = 0; k < 16; ++k) CHECK(mp.word.buffer()[c.pad_token_id * 16 + k] == 0.0f);
  ModelConfig c2 = c;
  c2.pre_layer_norm = false;
  c2.num_labels = 4;
  REQUIRE_THROWS_WITH(load_model(dir / "m.safetensors", c2), Contains("classifier.out_proj.weight"));
  REQUIRE_THROWS_WITH(load_model(dir / "l.safetensors", c),
                      Contains("no tensor 'embeddings.word_embeddings.weight'"));
}

TEST_CASE("config: the authors' config.json, round trip, and errors naming the key",
          "[cpu][attention][config]") {
  // The authors' models/config.json (asFeng/Diffuser), verbatim keys.
  const std::string authors = R"({
    "attention_mode": "diffuser", "attention_probs_dropout_prob": 0.1,
    "attention_window": [64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64],
    "bos_token_id": 0, "eos_token_id": 2, "gradient_checkpointing": false, "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1, "hidden_size": 768, "ignore_attention_mask": false, "initializer_range": 0.02,
    "intermediate_size": 3072, "layer_norm_eps": 1e-05, "max_position_embeddings": 4098, "model_type": "diffuser",
    "num_attention_heads": 12, "num_glob": 64, "num_hidden_layers": 12, "num_rand": 64, "pad_token_id": 1,
    "sep_token_id": 2, "type_vocab_size": 1, "vocab_size": 50265})";
  const ModelConfig c = ModelConfig::from_json(authors, "config.json");
  CHECK(c.hidden_size == 768);
  CHECK(c.head_dim() == 64);
  CHECK(c.pattern_for_layer(3) == "blocks:64+random:64+global-random:64");
  CHECK(c.coefficients().describe() == diffusion::Coefficients::ppr(5, 0.1).describe());
  CHECK(c.hop_dropout() == 0.1);
  CHECK_FALSE(c.pre_layer_norm);

  ModelConfig d = c;
  d.graph_pattern = "window:8+global:2";
  d.diffusion_heat_t = 1.5;
  d.diffusion_hops = 7;
  d.attention_hop_dropout_prob = 0.05;
  d.attention_window[2] = 32;
  const ModelConfig e = ModelConfig::from_json(d.to_json(), "round trip");
  CHECK(e.to_json() == d.to_json());
  CHECK(e.attention_window[2] == 32);
  CHECK(e.coefficients().describe() == diffusion::Coefficients::heat(7, 1.5).describe());
  const ModelConfig t =
      ModelConfig::from_json(R"({"diffusion_theta": [0.5, 0.3, 0.2], "num_hidden_layers": 1})");
  CHECK(t.coefficients().theta() == std::vector<double>{0.5, 0.3, 0.2});
  CHECK(ModelConfig::from_json(t.to_json()).to_json() == t.to_json());

  struct Bad {
    std::string json, message;
  };
  const std::vector<Bad> cases = {
      {"{", "not valid JSON"},
      {"[1]", "must be a JSON object"},
      {R"({"hidden_size": "768"})", "\"hidden_size\" must be an integer"},
      {R"({"hidden_size": 100, "num_attention_heads": 12})", "not a multiple of num_attention_heads"},
      {R"({"num_hidden_layers": 2, "attention_window": [64]})", "\"attention_window\" has 1 entries"},
      {R"({"attention_window": 63})", "even"},
      {R"({"attention_window": "64"})", "integer or a list"},
      {R"({"hidden_dropout_prob": 1.0})", "\"hidden_dropout_prob\" must be in [0, 1)"},
      {R"({"attention_probs_dropout_prob": -0.1})", "attention_probs_dropout_prob"},
      {R"({"hidden_act": "relu"})", "\"relu\" is not supported"},
      {R"({"layer_norm_eps": 0})", "layer_norm_eps"},
      {R"({"diffusion_theta": [0.5], "diffusion_heat_t": 1.0})", "mutually exclusive"},
      {R"({"diffusion_theta": [0.5], "diffusion_hops": 3})", "conflicts"},
      {R"({"diffusion_hops": -1})", "diffusion_hops"},
      {R"({"diffusion_alpha": 2})", "diffusion_alpha"},
      {R"({"graph_pattern": "bogus:3"})", "graph_pattern"},
      {R"({"graph_seed": -4})", "graph_seed"},
      {R"({"pre_layer_norm": 1})", "true or false"},
      {R"({"num_labels": 0})", "num_labels"},
      {R"({"pad_token_id": 70000})", "pad_token_id"},
  };
  for (const auto& b : cases) {
    CAPTURE(b.json);
    REQUIRE_THROWS_WITH(ModelConfig::from_json(b.json, "c.json"), Contains("c.json") && Contains(b.message));
  }
  REQUIRE_THROWS_WITH(ModelConfig::load("/nonexistent/c.json"), Contains("cannot open"));
}

TEST_CASE("safetensors: NaN and Inf weights, repeated names and overflowing numbers are refused",
          "[cpu][attention][safetensors]") {
  TempDir dir;
  st::Writer w;
  const float ok[4] = {1, 2, 3, 4};
  w.add("a", ok, {2, 2});
  std::string bytes = w.serialize();
  CHECK(st::Reader::from_bytes(bytes, "w.safetensors").tensors().size() == 1);
  // Element [1, 0] becomes NaN (bytes of a float32 quiet NaN, little-endian).
  const std::uint32_t nan_bits = 0x7fc00000u;
  std::memcpy(bytes.data() + bytes.size() - 8, &nan_bits, 4);
  write(dir / "nan.safetensors", bytes);
  const auto r = st::Reader::open(dir / "nan.safetensors");
  REQUIRE_THROWS_WITH(r.read_f32("a"),
                      Contains("nan.safetensors: tensor 'a' element [1, 0] is NaN; weights must be finite"));
  const std::uint32_t inf_bits = 0xff800000u;
  std::memcpy(bytes.data() + bytes.size() - 8, &inf_bits, 4);
  write(dir / "inf.safetensors", bytes);
  REQUIRE_THROWS_WITH(st::Reader::open(dir / "inf.safetensors").read_f32("a"),
                      Contains("element [1, 0] is -Inf"));

  const auto refuses = [&](const std::string& header, const std::string& what) {
    INFO(header);
    REQUIRE_THROWS_WITH(st::Reader::from_bytes(file_with(header, 16), "h.safetensors"),
                        Contains("h.safetensors") && Contains(what));
  };
  refuses(
      R"({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}, "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})",
      "the key \"a\" appears twice");
  refuses(R"({"a": {"dtype": "F32", "dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})",
          "the key \"dtype\" appears twice in \"a\"");
  refuses(R"({"a": {"dtype": "F32", "shape": [1e309], "data_offsets": [0, 16]}})",
          "1e309 overflows a double");
  refuses(R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]})", "not valid JSON");
  refuses(R"({"a": {"dtype": "F\u001b32", "shape": [4], "data_offsets": [0, 16]}})",
          "unknown dtype 'F\\x1b32'");
}
