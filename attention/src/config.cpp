// ModelConfig from and to JSON (nlohmann::json); every error names the file and the key.
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

#include <diffuser/attention/config.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/graphs/pattern.hpp>

#include "json_strict.hpp"

namespace diffuser::attention {

using json = nlohmann::json;

namespace {

[[noreturn]] void bad(const std::string& source, const std::string& key, const std::string& msg) {
  throw Error(cat(source, ": \"", key, "\" ", msg));
}

using detail::json_excerpt;

// An integer-valued JSON number in int64 range (768, 768.0, 7.68e2); false for anything else.
bool as_int64(const json& v, std::int64_t& out) {
  if (v.is_number_unsigned()) {
    if (v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return false;
    out = static_cast<std::int64_t>(v.get<std::uint64_t>());
    return true;
  }
  if (v.is_number_integer()) {
    out = v.get<std::int64_t>();
    return true;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    // Range first: converting an out-of-range double to an integer is undefined.
    if (!(d >= -9.2e18 && d <= 9.2e18) || d != std::floor(d)) return false;
    out = static_cast<std::int64_t>(d);
    return true;
  }
  return false;
}

void get_int(const json& j, const char* key, std::int64_t& out, const std::string& src) {
  if (!j.contains(key)) return;
  if (!as_int64(j[key], out)) bad(src, key, cat("must be an integer, got ", json_excerpt(j[key])));
}

void get_double(const json& j, const char* key, double& out, const std::string& src) {
  if (!j.contains(key)) return;
  if (!j[key].is_number()) bad(src, key, cat("must be a number, got ", json_excerpt(j[key])));
  out = j[key].get<double>();
}

void get_string(const json& j, const char* key, std::string& out, const std::string& src) {
  if (!j.contains(key)) return;
  if (!j[key].is_string()) bad(src, key, cat("must be a string, got ", json_excerpt(j[key])));
  out = j[key].get<std::string>();
}

}  // namespace

diffusion::Coefficients ModelConfig::coefficients() const {
  if (!diffusion_theta.empty()) return diffusion::Coefficients::custom(diffusion_theta);
  if (diffusion_heat_t >= 0.0) return diffusion::Coefficients::heat(diffusion_hops, diffusion_heat_t);
  return diffusion::Coefficients::ppr(diffusion_hops, diffusion_alpha);
}

double ModelConfig::layer_parameters() const {
  const auto d = static_cast<double>(hidden_size), i = static_cast<double>(intermediate_size);
  return 4 * d * d + 2 * d * i + 9 * d + i;  // Q, K, V, output; FFN in and out; biases; 2 LayerNorms
}

double ModelConfig::model_parameters() const {
  const auto d = static_cast<double>(hidden_size);
  const double embeddings = (static_cast<double>(vocab_size) + static_cast<double>(max_position_embeddings) +
                             static_cast<double>(type_vocab_size)) *
                                d +
                            2 * d;
  const double head = d * d + d + static_cast<double>(num_labels) * (d + 1);
  return embeddings + static_cast<double>(num_hidden_layers) * layer_parameters() + head +
         (pre_layer_norm ? 2 * d : 0);
}

std::string ModelConfig::pattern_for_layer(int layer) const {
  if (!graph_pattern.empty()) return graph_pattern;
  const std::int64_t w = attention_window.empty() ? 64 : attention_window[static_cast<std::size_t>(layer)];
  return cat("blocks:", w, "+random:", num_rand, "+global-random:", num_glob);
}

void ModelConfig::validate(const std::string& src) const {
  auto positive = [&](const char* key, std::int64_t v) {
    if (v <= 0) bad(src, key, cat("must be > 0, got ", v));
  };
  positive("hidden_size", hidden_size);
  positive("num_attention_heads", num_attention_heads);
  positive("num_hidden_layers", num_hidden_layers);
  positive("intermediate_size", intermediate_size);
  positive("max_position_embeddings", max_position_embeddings);
  positive("vocab_size", vocab_size);
  positive("type_vocab_size", type_vocab_size);
  positive("num_labels", num_labels);
  if (hidden_size % num_attention_heads != 0)
    bad(src, "hidden_size",
        cat(hidden_size, " is not a multiple of num_attention_heads (", num_attention_heads, ")"));
  if (num_rand < 0) bad(src, "num_rand", cat("must be >= 0, got ", num_rand));
  if (num_glob < 0) bad(src, "num_glob", cat("must be >= 0, got ", num_glob));
  if (static_cast<std::int64_t>(attention_window.size()) != num_hidden_layers)
    bad(src, "attention_window",
        cat("has ", attention_window.size(), " entries but num_hidden_layers is ", num_hidden_layers));
  for (auto w : attention_window)
    if (w <= 0 || w % 2 != 0) bad(src, "attention_window", cat("entries must be even and > 0, got ", w));
  auto prob = [&](const char* key, double p) {
    if (!(p >= 0.0 && p < 1.0)) bad(src, key, cat("must be in [0, 1), got ", p));
  };
  prob("hidden_dropout_prob", hidden_dropout_prob);
  prob("attention_probs_dropout_prob", attention_probs_dropout_prob);
  if (attention_hop_dropout_prob >= 0.0) prob("attention_hop_dropout_prob", attention_hop_dropout_prob);
  if (!(layer_norm_eps > 0.0)) bad(src, "layer_norm_eps", cat("must be > 0, got ", layer_norm_eps));
  if (pad_token_id < 0 || pad_token_id >= vocab_size)
    bad(src, "pad_token_id", cat("must be in [0, vocab_size), got ", pad_token_id));
  if (max_position_embeddings <= pad_token_id + 1)
    bad(src, "max_position_embeddings",
        cat("must exceed pad_token_id + 1 (positions start there), got ", max_position_embeddings));
  if (!(initializer_range >= 0.0))
    bad(src, "initializer_range", cat("must be >= 0, got ", initializer_range));
  if (hidden_act != "gelu")
    bad(src, "hidden_act", cat("\"", hidden_act, "\" is not supported (only \"gelu\", the erf form)"));
  if (diffusion_hops < 0 || diffusion_hops > diffusion::kMaxHops)
    bad(src, "diffusion_hops", cat("must be in [0, ", diffusion::kMaxHops, "], got ", diffusion_hops));
  if (!(diffusion_alpha >= 0.0 && diffusion_alpha <= 1.0))
    bad(src, "diffusion_alpha", cat("must be in [0, 1], got ", diffusion_alpha));
  if (!diffusion_theta.empty() && diffusion_heat_t >= 0.0)
    bad(src, "diffusion_theta", "and \"diffusion_heat_t\" are mutually exclusive");
  if (static_cast<std::int64_t>(diffusion_theta.size()) > diffusion::kMaxHops + 1)
    bad(src, "diffusion_theta", cat("has more than ", diffusion::kMaxHops + 1, " values"));
  if (!graph_pattern.empty()) {
    try {
      graphs::parse_pattern(graph_pattern);
    } catch (const Error& e) {
      bad(src, "graph_pattern", e.what());
    }
  }
  for (const double t : diffusion_theta)
    if (!std::isfinite(t)) bad(src, "diffusion_theta", cat("values must be finite, got ", t));
}

ModelConfig ModelConfig::from_json(const std::string& text, const std::string& src) {
  json j = detail::parse_json_strict(text, src, "the config");
  if (!j.is_object()) throw Error(cat(src, ": the config must be a JSON object, got ", json_excerpt(j)));
  // Short names of diffuser's keys (the training CLI's documented spelling).
  for (const auto& [alias, key] :
       {std::pair{"pattern", "graph_pattern"}, std::pair{"hops", "diffusion_hops"},
        std::pair{"alpha", "diffusion_alpha"}, std::pair{"theta", "diffusion_theta"},
        std::pair{"heat", "diffusion_heat_t"}}) {
    if (!j.contains(alias)) continue;
    if (j.contains(key)) bad(src, alias, cat("and \"", key, "\" are the same key; give one"));
    j[key] = j[alias];
    j.erase(alias);
  }
  ModelConfig c;
  get_int(j, "hidden_size", c.hidden_size, src);
  get_int(j, "num_attention_heads", c.num_attention_heads, src);
  get_int(j, "num_hidden_layers", c.num_hidden_layers, src);
  get_int(j, "intermediate_size", c.intermediate_size, src);
  get_int(j, "num_rand", c.num_rand, src);
  get_int(j, "num_glob", c.num_glob, src);
  get_double(j, "hidden_dropout_prob", c.hidden_dropout_prob, src);
  get_double(j, "attention_probs_dropout_prob", c.attention_probs_dropout_prob, src);
  get_double(j, "attention_hop_dropout_prob", c.attention_hop_dropout_prob, src);
  get_double(j, "layer_norm_eps", c.layer_norm_eps, src);
  get_int(j, "max_position_embeddings", c.max_position_embeddings, src);
  get_int(j, "vocab_size", c.vocab_size, src);
  get_int(j, "type_vocab_size", c.type_vocab_size, src);
  get_int(j, "num_labels", c.num_labels, src);
  get_int(j, "pad_token_id", c.pad_token_id, src);
  get_double(j, "initializer_range", c.initializer_range, src);
  get_string(j, "hidden_act", c.hidden_act, src);
  get_string(j, "graph_pattern", c.graph_pattern, src);
  if (j.contains("graph_seed")) {
    if (!j["graph_seed"].is_number_unsigned())
      bad(src, "graph_seed", cat("must be an integer >= 0, got ", json_excerpt(j["graph_seed"])));
    c.graph_seed = j["graph_seed"].get<std::uint64_t>();
  }
  std::int64_t hops = c.diffusion_hops;
  get_int(j, "diffusion_hops", hops, src);
  if (hops < 0 || hops > diffusion::kMaxHops)
    bad(src, "diffusion_hops", cat("must be in [0, ", diffusion::kMaxHops, "], got ", hops));
  c.diffusion_hops = static_cast<int>(hops);
  get_double(j, "diffusion_alpha", c.diffusion_alpha, src);
  get_double(j, "diffusion_heat_t", c.diffusion_heat_t, src);
  if (j.contains("diffusion_theta")) {
    const json& t = j["diffusion_theta"];
    if (!t.is_array() || t.empty()) bad(src, "diffusion_theta", "must be a non-empty list of numbers");
    for (const auto& v : t) {
      if (!v.is_number())
        bad(src, "diffusion_theta", cat("must be a list of numbers, found ", json_excerpt(v)));
      c.diffusion_theta.push_back(v.get<double>());
    }
    if (j.contains("diffusion_hops"))
      bad(src, "diffusion_hops", "conflicts with \"diffusion_theta\" (which gives theta_0..theta_K itself)");
    c.diffusion_hops = static_cast<int>(c.diffusion_theta.size()) - 1;
  }
  if (j.contains("pre_layer_norm")) {
    if (!j["pre_layer_norm"].is_boolean())
      bad(src, "pre_layer_norm", cat("must be true or false, got ", json_excerpt(j["pre_layer_norm"])));
    c.pre_layer_norm = j["pre_layer_norm"].get<bool>();
  }
  if (c.num_hidden_layers <= 0) bad(src, "num_hidden_layers", cat("must be > 0, got ", c.num_hidden_layers));
  if (j.contains("attention_window")) {
    const json& w = j["attention_window"];
    std::int64_t one = 0;
    if (w.is_number() && as_int64(w, one)) {
      // One window for every layer; the layer count is checked (validate) before this is sized.
      if (c.num_hidden_layers > 100000)
        bad(src, "num_hidden_layers", cat("must be at most 100000, got ", c.num_hidden_layers));
      c.attention_window.assign(static_cast<std::size_t>(c.num_hidden_layers), one);
    } else if (w.is_array()) {
      for (const auto& v : w) {
        std::int64_t x = 0;
        if (!as_int64(v, x))
          bad(src, "attention_window", cat("entries must be integers, found ", json_excerpt(v)));
        c.attention_window.push_back(x);
      }
    } else {
      bad(src, "attention_window", cat("must be an integer or a list of integers, got ", json_excerpt(w)));
    }
  } else {
    if (c.num_hidden_layers > 100000)
      bad(src, "num_hidden_layers", cat("must be at most 100000, got ", c.num_hidden_layers));
    c.attention_window.assign(static_cast<std::size_t>(c.num_hidden_layers), 64);
  }
  c.validate(src);
  return c;
}

ModelConfig ModelConfig::load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(cat(path.string(), ": cannot open the config file"));
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(cat(path.string(), ": cannot read: is a directory"));
  // A config is a few kilobytes; a huge file (or an endless device) is a mistake, not something
  // to hold in memory.
  constexpr std::size_t kMaxConfigBytes = 16 << 20;
  std::string text;
  char piece[1 << 16];
  while (in.read(piece, sizeof piece) || in.gcount() > 0) {
    text.append(piece, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxConfigBytes)
      throw Error(cat(path.string(), ": the config file has more than ", kMaxConfigBytes,
                      " bytes, more than a config may have"));
  }
  if (in.bad()) throw Error(cat(path.string(), ": read error"));
  return from_json(text, path.string());
}

std::string ModelConfig::to_json() const {
  json j = {{"model_type", "diffuser"},
            {"hidden_size", hidden_size},
            {"num_attention_heads", num_attention_heads},
            {"num_hidden_layers", num_hidden_layers},
            {"intermediate_size", intermediate_size},
            {"attention_window", attention_window},
            {"num_rand", num_rand},
            {"num_glob", num_glob},
            {"hidden_dropout_prob", hidden_dropout_prob},
            {"attention_probs_dropout_prob", attention_probs_dropout_prob},
            {"layer_norm_eps", layer_norm_eps},
            {"max_position_embeddings", max_position_embeddings},
            {"vocab_size", vocab_size},
            {"type_vocab_size", type_vocab_size},
            {"num_labels", num_labels},
            {"pad_token_id", pad_token_id},
            {"initializer_range", initializer_range},
            {"hidden_act", hidden_act},
            {"graph_seed", graph_seed},
            {"pre_layer_norm", pre_layer_norm}};
  if (!graph_pattern.empty()) j["graph_pattern"] = graph_pattern;
  if (!diffusion_theta.empty()) {
    j["diffusion_theta"] = diffusion_theta;
  } else {
    j["diffusion_hops"] = diffusion_hops;
    j["diffusion_alpha"] = diffusion_alpha;
    if (diffusion_heat_t >= 0.0) j["diffusion_heat_t"] = diffusion_heat_t;
  }
  if (attention_hop_dropout_prob >= 0.0) j["attention_hop_dropout_prob"] = attention_hop_dropout_prob;
  return j.dump(2) + "\n";
}

}  // namespace diffuser::attention
