// Classification tasks generated in-project (no downloads), for `diffuser data`: sequences of
// token ids with a label each. Token 0 of every sequence is the one the classifier reads; tokens
// past a sequence's length are padding. Every example is a pure function of (seed, split, index).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace diffuser::training {

// Token ids every task shares (RoBERTa's: <s> = 0 and <pad> = 1, the configs' pad_token_id).
inline constexpr std::int32_t kClsId = 0;
inline constexpr std::int32_t kPadId = 1;

// One split: count sequences padded to n tokens.
struct TaskSet {
  std::int64_t n = 0;
  std::vector<std::int32_t> tokens;   // (count, n), kPadId past each length
  std::vector<std::int32_t> labels;   // (count)
  std::vector<std::int32_t> lengths;  // (count), in [1, n]
  std::int64_t count() const { return static_cast<std::int64_t>(labels.size()); }
};

// What meta.json says about a task.
struct TaskInfo {
  std::string task;
  std::int64_t vocab_size = 0, num_classes = 0;
  std::vector<std::string> vocabulary;                           // name of each id
  std::vector<std::pair<std::string, std::int64_t>> parameters;  // the generator's settings
};

// Long Range Arena's ListOps: a tree of operators MAX, MIN, MED (median, rounded down) and SM (sum
// mod 10) over digits, each operator with 2..max_args arguments, a leaf with probability 3/4 above
// max_depth (LRA's generator), written in prefix form with brackets as tokens: "[MAX 2 9 [MIN 4 7 ] 0 ]".
// Trees of min_length..n-1 tokens are kept (rejection sampling, as LRA); the label is the value.
// Ids: 0 <cls>, 1 <pad>, 2 ], 3 [MAX, 4 [MIN, 5 [MED, 6 [SM, 7..16 the digits 0..9.
struct ListOpsOptions {
  std::int64_t n = 0;
  std::int64_t min_length = 0;  // tree tokens; 0 = n / 4
  int max_depth = 10;
  int max_args = 10;
};
TaskInfo listops_info(const ListOpsOptions& o);
TaskSet generate_listops(const ListOpsOptions& o, std::int64_t count, std::uint64_t seed,
                         std::uint64_t split);
// The value of a ListOps token sequence (without <cls>); throws Error if it is not a valid tree.
int evaluate_listops(const std::vector<std::int32_t>& tree);

// A long-range lookup. Token 0 is a key (of `keys`); the same key sits distance - 1 tokens later
// with a value token right after it, at exactly `distance` (+ a uniform 0..jitter) from token 0;
// the label is that value (`values` classes). The rest is filler tokens (`filler` ids), plus
// pairs - 1 distractor pairs (other keys, random values) at random places. Every sequence has n
// tokens. So a model classifies token 0 correctly only if information flows from `distance` away.
// Ids: 0 <cls> (unused), 1 <pad>, then the keys, the values, the filler.
struct RetrievalOptions {
  std::int64_t n = 0;
  std::int64_t distance = 0;  // 0 = n / 2
  std::int64_t jitter = 0;
  std::int64_t pairs = 1;
  std::int64_t keys = 16;
  std::int64_t values = 10;
  std::int64_t filler = 32;
};
TaskInfo retrieval_info(const RetrievalOptions& o);
TaskSet generate_retrieval(const RetrievalOptions& o, std::int64_t count, std::uint64_t seed,
                           std::uint64_t split);
// Throws UsageError naming the option for settings that cannot make a sequence.
void check(const ListOpsOptions& o);
void check(const RetrievalOptions& o);

}  // namespace diffuser::training
