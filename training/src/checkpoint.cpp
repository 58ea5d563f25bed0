#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>

#include <nlohmann/json.hpp>

#include <diffuser/attention/safetensors.hpp>
#include <diffuser/engine/error.hpp>
#include <diffuser/training/checkpoint.hpp>

namespace diffuser::training {

namespace fs = std::filesystem;
using attention::ModelConfig;
using attention::ModelParams;
using json = nlohmann::json;

namespace {

constexpr const char* kKind = "diffuser training checkpoint";

// Every tensor of a checkpoint with its file name, sorted by name (the file's order).
std::vector<NamedTensor> all_tensors(const ModelConfig& c, ModelParams& p, AdamW& opt) {
  std::vector<NamedTensor> all = named_tensors(p, c);
  for (auto t : named_tensors(opt.exp_avg(), c)) {
    t.name = "optimizer.exp_avg." + t.name;
    all.push_back(t);
  }
  for (auto t : named_tensors(opt.exp_avg_sq(), c)) {
    t.name = "optimizer.exp_avg_sq." + t.name;
    all.push_back(t);
  }
  std::sort(all.begin(), all.end(),
            [](const NamedTensor& a, const NamedTensor& b) { return a.name < b.name; });
  return all;
}

// FNV-1a over names and value bits.
std::uint64_t checksum(const std::vector<NamedTensor>& all) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  auto bytes = [&](const void* data, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) {
      h ^= b[i];
      h *= 0x100000001B3ull;
    }
  };
  for (const auto& t : all) {
    bytes(t.name.data(), t.name.size());
    bytes(t.data, static_cast<std::size_t>(t.size) * sizeof(float));
  }
  return h;
}

std::string hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::int64_t meta_int(const std::map<std::string, std::string>& m, const std::string& key,
                      const fs::path& path) {
  const auto it = m.find(key);
  if (it == m.end()) throw Error(cat(path.string(), ": no '", key, "' in the checkpoint's metadata"));
  try {
    std::size_t used = 0;
    const long long v = std::stoll(it->second, &used);
    if (used == it->second.size() && v >= 0) return v;
  } catch (...) {
  }
  throw Error(
      cat(path.string(), ": the checkpoint's '", key, "' is not an integer >= 0: '", it->second, "'"));
}

const std::string& meta_text(const std::map<std::string, std::string>& m, const std::string& key,
                             const fs::path& path) {
  const auto it = m.find(key);
  if (it == m.end()) throw Error(cat(path.string(), ": no '", key, "' in the checkpoint's metadata"));
  return it->second;
}

}  // namespace

std::string checkpoint_name(std::int64_t step) {
  return cat("checkpoint-", step, ".safetensors");
}

void save_checkpoint(const fs::path& path, const ModelConfig& c, ModelParams& p, AdamW& opt,
                     const CheckpointState& s) {
  const auto all = all_tensors(c, p, opt);
  safetensors::Writer w;
  for (const auto& t : all) w.add(t.name, t.data, t.shape);
  w.set_metadata("format", "pt");
  w.set_metadata("producer", "diffuser train");
  w.set_metadata("kind", kKind);
  w.set_metadata("step", std::to_string(s.step));
  w.set_metadata("adam_step", std::to_string(opt.t()));
  w.set_metadata("data_cursor", std::to_string(s.cursor));
  w.set_metadata("seed", std::to_string(s.seed));
  w.set_metadata("config", s.config_json);
  w.set_metadata("training", s.options_json);
  w.set_metadata("data_fingerprint", hex(s.data_fingerprint));
  w.set_metadata("checksum", hex(checksum(all)));
  w.write(path);
}

CheckpointState read_checkpoint_state(const fs::path& path) {
  const auto r = safetensors::Reader::open(path);
  const auto& m = r.metadata();
  const auto kind = m.find("kind");
  if (kind == m.end() || kind->second != kKind)
    throw Error(cat(path.string(), ": not a diffuser training checkpoint (no \"kind\": \"", kKind,
                    "\" in its metadata; a weights file can start a run with --init instead)"));
  CheckpointState s;
  s.step = meta_int(m, "step", path);
  s.cursor = meta_int(m, "data_cursor", path);
  s.seed = static_cast<std::uint64_t>(meta_int(m, "seed", path));
  s.config_json = meta_text(m, "config", path);
  s.options_json = meta_text(m, "training", path);
  const std::string& fp = meta_text(m, "data_fingerprint", path);
  try {
    s.data_fingerprint = std::stoull(fp, nullptr, 16);
  } catch (...) {
    throw Error(cat(path.string(), ": the checkpoint's data_fingerprint is not hexadecimal: '", fp, "'"));
  }
  if (meta_int(m, "adam_step", path) != s.step)
    throw Error(cat(path.string(), ": the checkpoint's adam_step differs from its step"));
  return s;
}

void load_checkpoint(const fs::path& path, const ModelConfig& c, ModelParams& p, AdamW& opt) {
  const auto r = safetensors::Reader::open(path);
  const auto all = all_tensors(c, p, opt);
  for (const auto& t : all) {
    const auto* info = r.find(t.name);
    if (info && info->dtype != safetensors::DType::F32)
      throw Error(cat(path.string(), ": tensor '", t.name, "' is ", info->dtype_text,
                      "; a checkpoint holds float32 values"));
    r.read_f32_into(t.name, t.shape, t.data);
  }
  const auto it = r.metadata().find("checksum");
  if (it == r.metadata().end())
    throw Error(cat(path.string(), ": no 'checksum' in the checkpoint's metadata"));
  if (it->second != hex(checksum(all)))
    throw Error(cat(path.string(),
                    ": the tensor values do not match the checkpoint's checksum (the file is corrupt)"));
}

std::string config_difference(const ModelConfig& a, const ModelConfig& b) {
  const json ja = json::parse(a.to_json()), jb = json::parse(b.to_json());
  for (auto it = ja.begin(); it != ja.end(); ++it) {
    const auto other = jb.find(it.key());
    if (other == jb.end()) return cat(it.key(), ": ", it.value().dump(), " vs (not set)");
    if (*other != it.value()) return cat(it.key(), ": ", it.value().dump(), " vs ", other->dump());
  }
  for (auto it = jb.begin(); it != jb.end(); ++it)
    if (!ja.contains(it.key())) return cat(it.key(), ": (not set) vs ", it.value().dump());
  return {};
}

}  // namespace diffuser::training
