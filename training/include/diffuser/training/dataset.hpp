// A classification data set on disk (the layout `diffuser data` writes and users may provide):
//   DIR/meta.json                     {"vocab_size": V, "num_classes": C, ...}
//   DIR/{train,valid,test}_tokens.npy (S, N) int32 (int64 accepted): token ids, padded past each length
//   DIR/{train,valid,test}_labels.npy (S,) int32: class ids in [0, C)
//   DIR/{train,valid,test}_lengths.npy (S,) int32: real tokens per sequence, in [1, N]
// Token 0 of each sequence is the one the classifier reads. Every error names the file and the
// element or key at fault.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <diffuser/training/tasks.hpp>

namespace diffuser::training {

struct DatasetMeta {
  std::string task;  // free text for user data
  std::int64_t vocab_size = 0, num_classes = 0;
  std::int64_t pad_id = -1;  // -1: not given
};

// Reads DIR/meta.json: vocab_size and num_classes (integers > 0) are required, task and pad_id optional.
DatasetMeta read_meta(const std::filesystem::path& dir);
// The text of meta.json for a generated task.
std::string meta_json(const TaskInfo& info, std::uint64_t seed,
                      const std::vector<std::pair<std::string, std::int64_t>>& split_counts);

// One split held in memory.
struct Split {
  std::string name;
  std::int64_t n = 0;  // padded length
  std::vector<std::int32_t> tokens, labels, lengths;
  bool has_labels = false;
  std::int64_t count() const { return static_cast<std::int64_t>(lengths.size()); }
  const std::int32_t* row(std::int64_t i) const { return tokens.data() + i * n; }
  std::int64_t max_length() const;
};

// Whether DIR holds the tokens of split `name`.
bool has_split(const std::filesystem::path& dir, const std::string& name);
// Reads and checks DIR/<name>_{tokens,lengths,labels}.npy: integer dtypes, shapes (S, N), (S,),
// (S,), S >= 1, lengths in [1, N], every real token in [0, vocab_size), labels in [0,
// num_classes). Labels may be missing only when !need_labels.
Split read_split(const std::filesystem::path& dir, const std::string& name, const DatasetMeta& meta,
                 bool need_labels);

// A 64-bit fingerprint of a split's real tokens, lengths and labels (resume checks the data).
std::uint64_t fingerprint(const Split& s);

}  // namespace diffuser::training
