#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/npy.hpp>
#include <diffuser/training/dataset.hpp>

namespace diffuser::training {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::int64_t required_count(const json& j, const char* key, const fs::path& file) {
  if (!j.contains(key)) throw Error(cat(file.string(), ": missing key \"", key, "\""));
  const json& v = j[key];
  if (!v.is_number_integer() || v.get<std::int64_t>() <= 0)
    throw Error(cat(file.string(), ": \"", key, "\" must be an integer > 0, got ", v.dump()));
  return v.get<std::int64_t>();
}

// An integer array of the given rank, as int32 values (int64 values must fit).
std::vector<std::int32_t> read_ints(const fs::path& path, int rank, npy::Header& h) {
  if (!fs::exists(path)) throw Error(cat(path.string(), ": missing"));
  h = npy::read_header(path);
  if (h.dtype != npy::DType::i4 && h.dtype != npy::DType::i8)
    throw Error(cat(path.string(), ": dtype ", npy::dtype_descr(h.dtype), " where int32 (<i4) is expected"));
  if (static_cast<int>(h.shape.size()) != rank)
    throw Error(cat(path.string(), ": shape ", h.shape_string(), " where ", rank, " dimension",
                    rank == 1 ? " is" : "s are", " expected"));
  const auto wide = npy::load_i64(path);
  std::vector<std::int32_t> out(wide.size());
  for (std::size_t i = 0; i < wide.size(); ++i) {
    if (wide[i] < INT32_MIN || wide[i] > INT32_MAX)
      throw Error(cat(path.string(), ": element ", i, " = ", wide[i], " does not fit in int32"));
    out[i] = static_cast<std::int32_t>(wide[i]);
  }
  return out;
}

}  // namespace

DatasetMeta read_meta(const fs::path& dir) {
  const fs::path file = dir / "meta.json";
  if (!fs::is_directory(dir)) throw Error(cat(dir.string(), ": the data folder does not exist"));
  std::ifstream in(file);
  if (!in)
    throw Error(
        cat(file.string(), ": missing (the data folder needs meta.json with vocab_size and num_classes)"));
  std::ostringstream ss;
  ss << in.rdbuf();
  json j;
  try {
    j = json::parse(ss.str());
  } catch (const json::parse_error& e) {
    throw Error(cat(file.string(), ": not valid JSON: ", e.what()));
  }
  if (!j.is_object()) throw Error(cat(file.string(), ": must be a JSON object"));
  DatasetMeta m;
  m.vocab_size = required_count(j, "vocab_size", file);
  m.num_classes = required_count(j, "num_classes", file);
  if (j.contains("task")) {
    if (!j["task"].is_string()) throw Error(cat(file.string(), ": \"task\" must be a string"));
    m.task = j["task"].get<std::string>();
  }
  if (j.contains("pad_id")) {
    if (!j["pad_id"].is_number_integer() || j["pad_id"].get<std::int64_t>() < 0 ||
        j["pad_id"].get<std::int64_t>() >= m.vocab_size)
      throw Error(
          cat(file.string(), ": \"pad_id\" must be an integer in [0, vocab_size), got ", j["pad_id"].dump()));
    m.pad_id = j["pad_id"].get<std::int64_t>();
  }
  return m;
}

std::string meta_json(const TaskInfo& info, std::uint64_t seed,
                      const std::vector<std::pair<std::string, std::int64_t>>& split_counts) {
  json params = json::object(), splits = json::object();
  for (const auto& [k, v] : info.parameters) params[k] = v;
  for (const auto& [k, v] : split_counts) splits[k] = v;
  json j = {{"task", info.task},
            {"vocab_size", info.vocab_size},
            {"num_classes", info.num_classes},
            {"cls_id", kClsId},
            {"pad_id", kPadId},
            {"seed", seed},
            {"task_parameters", params},
            {"splits", splits},
            {"vocabulary", info.vocabulary}};
  return j.dump(2) + "\n";
}

std::int64_t Split::max_length() const {
  std::int64_t m = 0;
  for (auto l : lengths) m = std::max<std::int64_t>(m, l);
  return m;
}

bool has_split(const fs::path& dir, const std::string& name) {
  return fs::exists(dir / (name + "_tokens.npy"));
}

Split read_split(const fs::path& dir, const std::string& name, const DatasetMeta& meta, bool need_labels) {
  Split s;
  s.name = name;
  const fs::path tp = dir / (name + "_tokens.npy"), lp = dir / (name + "_lengths.npy"),
                 yp = dir / (name + "_labels.npy");
  npy::Header th, lh, yh;
  s.tokens = read_ints(tp, 2, th);
  s.lengths = read_ints(lp, 1, lh);
  const std::int64_t count = th.shape[0];
  s.n = th.shape[1];
  if (count < 1 || s.n < 1)
    throw Error(cat(tp.string(), ": shape ", th.shape_string(), " holds no sequence"));
  if (lh.shape[0] != count)
    throw Error(cat(lp.string(), ": shape ", lh.shape_string(), " but ", tp.filename().string(), " holds ",
                    count, " sequences"));
  s.has_labels = fs::exists(yp);
  if (s.has_labels) {
    s.labels = read_ints(yp, 1, yh);
    if (yh.shape[0] != count)
      throw Error(cat(yp.string(), ": shape ", yh.shape_string(), " but ", tp.filename().string(), " holds ",
                      count, " sequences"));
    for (std::int64_t i = 0; i < count; ++i) {
      const auto y = s.labels[static_cast<std::size_t>(i)];
      if (y < 0 || y >= meta.num_classes)
        throw Error(cat(yp.string(), ": label [", i, "] = ", y, " is outside [0, ", meta.num_classes,
                        ") (num_classes of meta.json)"));
    }
  } else if (need_labels) {
    throw Error(cat(yp.string(), ": missing"));
  }
  for (std::int64_t i = 0; i < count; ++i) {
    const auto len = s.lengths[static_cast<std::size_t>(i)];
    if (len < 1 || len > s.n)
      throw Error(cat(lp.string(), ": length [", i, "] = ", len, " is outside [1, ", s.n, "]"));
    const std::int32_t* row = s.row(i);
    for (std::int64_t t = 0; t < len; ++t)
      if (row[t] < 0 || row[t] >= meta.vocab_size)
        throw Error(cat(tp.string(), ": token [", i, ", ", t, "] = ", row[t],
                        " is outside the vocabulary [0, ", meta.vocab_size, ") of meta.json"));
  }
  return s;
}

std::uint64_t fingerprint(const Split& s) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  auto mix = [&](std::int64_t v) {
    for (int b = 0; b < 8; ++b) {
      h ^= static_cast<std::uint64_t>(v >> (8 * b)) & 0xFF;
      h *= 0x100000001B3ull;
    }
  };
  mix(s.count());
  mix(s.n);
  for (std::int64_t i = 0; i < s.count(); ++i) {
    const auto len = s.lengths[static_cast<std::size_t>(i)];
    mix(len);
    mix(s.has_labels ? s.labels[static_cast<std::size_t>(i)] : -1);
    for (std::int64_t t = 0; t < len; ++t) mix(s.row(i)[t]);
  }
  return h;
}

}  // namespace diffuser::training
