// The generated tasks. Each example draws from its own counter-based stream (seed, split, index),
// so a split is the same on every machine whatever the count of examples before it.
#include <algorithm>

#include <diffuser/engine/error.hpp>
#include <diffuser/engine/random.hpp>
#include <diffuser/training/tasks.hpp>

namespace diffuser::training {

namespace {

// Sequential draws from one (seed, stream).
struct Draws {
  std::uint64_t seed, stream, next = 0;
  double uniform() { return rng::uniform(seed, stream, next++); }
  std::int64_t below(std::int64_t bound) {
    return static_cast<std::int64_t>(rng::below(seed, stream, next++, static_cast<std::uint32_t>(bound)));
  }
};

std::uint64_t example_stream(std::uint64_t task, std::uint64_t split, std::int64_t index) {
  return rng::mix64(rng::mix64(task ^ rng::mix64(split)) + static_cast<std::uint64_t>(index));
}

// ListOps ids.
constexpr std::int32_t kEnd = 2, kFirstOp = 3, kFirstDigit = 7;
enum Op { op_max = 0, op_min = 1, op_med = 2, op_sm = 3 };

int apply_op(int op, std::vector<int>& args) {
  switch (op) {
    case op_max:
      return *std::max_element(args.begin(), args.end());
    case op_min:
      return *std::min_element(args.begin(), args.end());
    case op_med: {
      // numpy's median, then int(): the mean of the two middle values rounded down.
      std::sort(args.begin(), args.end());
      const std::size_t k = args.size();
      return k % 2 ? args[k / 2] : (args[k / 2 - 1] + args[k / 2]) / 2;
    }
    default: {
      int s = 0;
      for (int a : args) s += a;
      return s % 10;
    }
  }
}

// LRA's generate_tree: returns the value, appends the tokens; false once `out` exceeds `limit`
// (the tree would be rejected anyway).
bool grow(Draws& r, int depth, const ListOpsOptions& o, std::size_t limit, std::vector<std::int32_t>& out,
          int& value) {
  const double u = depth < o.max_depth ? r.uniform() : 1.0;
  if (u > 0.25) {
    value = static_cast<int>(r.below(10));
    out.push_back(kFirstDigit + value);
    return out.size() <= limit;
  }
  const auto args = static_cast<int>(2 + r.below(o.max_args - 1));
  const std::size_t op_at = out.size();
  out.push_back(0);  // the operator, drawn after the arguments as LRA does
  std::vector<int> values;
  for (int a = 0; a < args; ++a) {
    int v = 0;
    if (!grow(r, depth + 1, o, limit, out, v)) return false;
    values.push_back(v);
  }
  const auto op = static_cast<int>(r.below(4));
  out[op_at] = kFirstOp + op;
  out.push_back(kEnd);
  value = apply_op(op, values);
  return out.size() <= limit;
}

std::int64_t listops_min(const ListOpsOptions& o) {
  return o.min_length > 0 ? o.min_length : o.n / 4;
}

std::int64_t retrieval_distance(const RetrievalOptions& o) {
  return o.distance > 0 ? o.distance : o.n / 2;
}

}  // namespace

void check(const ListOpsOptions& o) {
  if (o.n < 4) throw UsageError(cat("--n must be >= 4 for listops, got ", o.n));
  if (o.max_depth < 1 || o.max_depth > 64)
    throw UsageError(cat("--max-depth must be in [1, 64], got ", o.max_depth));
  if (o.max_args < 2 || o.max_args > 64)
    throw UsageError(cat("--max-args must be in [2, 64], got ", o.max_args));
  if (o.min_length < 0 || listops_min(o) > o.n - 1)
    throw UsageError(cat("--min-length must be in [0, n - 1] = [0, ", o.n - 1, "], got ", o.min_length));
}

void check(const RetrievalOptions& o) {
  if (o.n < 4) throw UsageError(cat("--n must be >= 4 for retrieval, got ", o.n));
  const std::int64_t d = retrieval_distance(o);
  if (o.distance < 0 || d < 2) throw UsageError(cat("--distance must be >= 2, got ", o.distance));
  if (o.jitter < 0) throw UsageError(cat("--jitter must be >= 0, got ", o.jitter));
  if (d + o.jitter > o.n - 1)
    throw UsageError(cat("--distance + --jitter must be at most n - 1 = ", o.n - 1, ", got ", d + o.jitter));
  if (o.keys < 1 || (o.pairs > 1 && o.keys < 2))
    throw UsageError(cat("--keys must be >= 1 (>= 2 with distractor pairs), got ", o.keys));
  if (o.values < 2) throw UsageError(cat("--values must be >= 2, got ", o.values));
  if (o.filler < 1) throw UsageError(cat("--filler must be >= 1, got ", o.filler));
  if (o.pairs < 1 || 2 * o.pairs + 1 > o.n / 2)
    throw UsageError(cat("--pairs must be in [1, ", (o.n / 2 - 1) / 2, "] for n = ", o.n, ", got ", o.pairs));
}

int evaluate_listops(const std::vector<std::int32_t>& tree) {
  std::vector<std::pair<int, std::vector<int>>> stack;
  int result = -1;
  for (std::size_t i = 0; i < tree.size(); ++i) {
    const std::int32_t t = tree[i];
    if (t >= kFirstOp && t < kFirstDigit) {
      stack.push_back({t - kFirstOp, {}});
    } else if (t >= kFirstDigit && t < kFirstDigit + 10) {
      if (stack.empty()) {
        DIFFUSER_CHECK(tree.size() == 1, "listops: a digit outside any operator at token ", i);
        return t - kFirstDigit;
      }
      stack.back().second.push_back(t - kFirstDigit);
    } else if (t == kEnd) {
      DIFFUSER_CHECK(!stack.empty() && !stack.back().second.empty(), "listops: unbalanced ']' at token ", i);
      const int v = apply_op(stack.back().first, stack.back().second);
      stack.pop_back();
      if (stack.empty()) {
        DIFFUSER_CHECK(i + 1 == tree.size(), "listops: tokens after the root's ']' at token ", i + 1);
        result = v;
      } else {
        stack.back().second.push_back(v);
      }
    } else {
      throw Error(cat("listops: token ", i, " has id ", t, ", not an operator, digit or ']'"));
    }
  }
  DIFFUSER_CHECK(result >= 0, "listops: the tree is not closed");
  return result;
}

TaskInfo listops_info(const ListOpsOptions& o) {
  TaskInfo t;
  t.task = "listops";
  t.vocabulary = {"<cls>", "<pad>", "]", "[MAX", "[MIN", "[MED", "[SM"};
  for (int d = 0; d < 10; ++d) t.vocabulary.push_back(std::to_string(d));
  t.vocab_size = static_cast<std::int64_t>(t.vocabulary.size());
  t.num_classes = 10;
  t.parameters = {
      {"n", o.n}, {"min_length", listops_min(o)}, {"max_depth", o.max_depth}, {"max_args", o.max_args}};
  return t;
}

TaskSet generate_listops(const ListOpsOptions& o, std::int64_t count, std::uint64_t seed,
                         std::uint64_t split) {
  check(o);
  TaskSet s;
  s.n = o.n;
  s.tokens.assign(static_cast<std::size_t>(count * o.n), kPadId);
  const auto limit = static_cast<std::size_t>(o.n - 1);  // <cls> comes first
  const auto lo = static_cast<std::size_t>(listops_min(o));
  constexpr std::int64_t kTries = 1'000'000;
  std::vector<std::int32_t> tree;
  for (std::int64_t i = 0; i < count; ++i) {
    Draws r{seed, example_stream(0x4C4953544F5053ull, split, i)};
    int value = 0;
    std::int64_t tries = 0;
    for (;; ++tries) {
      DIFFUSER_CHECK(tries < kTries, "listops: no tree of ", lo, "..", limit, " tokens in ", kTries,
                     " tries (max depth ", o.max_depth, ", max args ", o.max_args, "); lower --min-length");
      tree.clear();
      if (grow(r, 1, o, limit, tree, value) && tree.size() >= lo) break;
    }
    std::int32_t* row = s.tokens.data() + i * o.n;
    row[0] = kClsId;
    std::copy(tree.begin(), tree.end(), row + 1);
    s.labels.push_back(value);
    s.lengths.push_back(static_cast<std::int32_t>(tree.size() + 1));
  }
  return s;
}

TaskInfo retrieval_info(const RetrievalOptions& o) {
  TaskInfo t;
  t.task = "retrieval";
  t.vocabulary = {"<cls>", "<pad>"};
  for (std::int64_t k = 0; k < o.keys; ++k) t.vocabulary.push_back(cat("K", k));
  for (std::int64_t v = 0; v < o.values; ++v) t.vocabulary.push_back(cat("V", v));
  for (std::int64_t f = 0; f < o.filler; ++f) t.vocabulary.push_back(cat("F", f));
  t.vocab_size = static_cast<std::int64_t>(t.vocabulary.size());
  t.num_classes = o.values;
  t.parameters = {{"n", o.n},           {"distance", retrieval_distance(o)},
                  {"jitter", o.jitter}, {"pairs", o.pairs},
                  {"keys", o.keys},     {"values", o.values},
                  {"filler", o.filler}};
  return t;
}

TaskSet generate_retrieval(const RetrievalOptions& o, std::int64_t count, std::uint64_t seed,
                           std::uint64_t split) {
  check(o);
  TaskSet s;
  s.n = o.n;
  s.tokens.resize(static_cast<std::size_t>(count * o.n));
  const std::int64_t d = retrieval_distance(o);
  const auto first_key = 2, first_value = first_key + static_cast<std::int32_t>(o.keys),
             first_filler = first_value + static_cast<std::int32_t>(o.values);
  std::vector<bool> used(static_cast<std::size_t>(o.n));
  for (std::int64_t i = 0; i < count; ++i) {
    Draws r{seed, example_stream(0x52455452494556ull, split, i)};
    std::int32_t* row = s.tokens.data() + i * o.n;
    for (std::int64_t t = 0; t < o.n; ++t)
      row[t] = first_filler + static_cast<std::int32_t>(r.below(o.filler));
    std::fill(used.begin(), used.end(), false);
    const auto key = static_cast<std::int32_t>(r.below(o.keys));
    const auto value = static_cast<std::int32_t>(r.below(o.values));
    const std::int64_t at = d + (o.jitter > 0 ? r.below(o.jitter + 1) : 0);  // the value's position
    row[0] = first_key + key;
    row[at - 1] = first_key + key;
    row[at] = first_value + value;
    used[0] = used[static_cast<std::size_t>(at - 1)] = used[static_cast<std::size_t>(at)] = true;
    for (std::int64_t p = 1; p < o.pairs; ++p) {
      std::int64_t q = 0;
      do q = 1 + r.below(o.n - 2);
      while (used[static_cast<std::size_t>(q)] || used[static_cast<std::size_t>(q + 1)]);
      const auto other = static_cast<std::int32_t>((key + 1 + r.below(o.keys - 1)) % o.keys);
      row[q] = first_key + other;
      row[q + 1] = first_value + static_cast<std::int32_t>(r.below(o.values));
      used[static_cast<std::size_t>(q)] = used[static_cast<std::size_t>(q + 1)] = true;
    }
    s.labels.push_back(value);
    s.lengths.push_back(static_cast<std::int32_t>(o.n));
  }
  return s;
}

}  // namespace diffuser::training
