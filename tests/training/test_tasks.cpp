// The generated tasks (ListOps values, retrieval distances, determinism), the sample order and
// batches, and the data-set files' checks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include <diffuser/engine/error.hpp>
#include <diffuser/training/batches.hpp>
#include <diffuser/training/tasks.hpp>

using namespace diffuser;
using namespace diffuser::training;

namespace {

// Token ids of a ListOps expression written with the names of the vocabulary.
std::vector<std::int32_t> ids(const std::vector<std::string>& words) {
  const auto vocab = listops_info({}).vocabulary;
  std::vector<std::int32_t> out;
  for (const auto& w : words)
    out.push_back(static_cast<std::int32_t>(std::find(vocab.begin(), vocab.end(), w) - vocab.begin()));
  return out;
}

}  // namespace

TEST_CASE("ListOps: the value of hand-written trees", "[cpu][training]") {
  CHECK(evaluate_listops(ids({"[MAX", "2", "9", "]"})) == 9);
  CHECK(evaluate_listops(ids({"[MIN", "4", "[MAX", "2", "9", "]", "3", "]"})) == 3);
  CHECK(evaluate_listops(ids({"[MED", "1", "7", "4", "]"})) == 4);
  CHECK(evaluate_listops(ids({"[MED", "1", "8", "4", "3", "]"})) == 3);  // (3 + 4) / 2 rounded down
  CHECK(evaluate_listops(ids({"[SM", "9", "8", "[MAX", "5", "1", "]", "]"})) == 2);  // 22 mod 10
  CHECK(evaluate_listops(ids({"7"})) == 7);
  CHECK_THROWS_AS(evaluate_listops(ids({"[MAX", "2", "9"})), Error);
  CHECK_THROWS_AS(evaluate_listops(ids({"[MAX", "]"})), Error);
  CHECK_THROWS_AS(evaluate_listops(ids({"[MAX", "2", "]", "3"})), Error);
}

TEST_CASE("ListOps: generated trees are valid, labelled right, within the lengths, reproducible",
          "[cpu][training]") {
  ListOpsOptions o;
  o.n = 128;
  const TaskSet a = generate_listops(o, 40, 7, 0);
  const TaskSet b = generate_listops(o, 40, 7, 0);
  const TaskSet other = generate_listops(o, 40, 7, 1);
  CHECK(a.tokens == b.tokens);
  CHECK(a.labels == b.labels);
  CHECK(a.tokens != other.tokens);
  std::set<std::int32_t> labels;
  for (std::int64_t i = 0; i < a.count(); ++i) {
    const auto len = a.lengths[static_cast<std::size_t>(i)];
    REQUIRE(len >= 1 + 32);  // <cls> + at least n / 4 tree tokens
    REQUIRE(len <= 128);
    const std::int32_t* row = a.tokens.data() + i * 128;
    REQUIRE(row[0] == kClsId);
    REQUIRE(evaluate_listops(std::vector<std::int32_t>(row + 1, row + len)) ==
            a.labels[static_cast<std::size_t>(i)]);
    for (std::int64_t t = len; t < 128; ++t) REQUIRE(row[t] == kPadId);
    labels.insert(a.labels[static_cast<std::size_t>(i)]);
  }
  CHECK(labels.size() > 3);
  // The first examples do not depend on how many are drawn.
  const TaskSet few = generate_listops(o, 5, 7, 0);
  CHECK(std::equal(few.tokens.begin(), few.tokens.end(), a.tokens.begin()));
  CHECK_THROWS_AS(check(ListOpsOptions{8, 8, 10, 10}), UsageError);
  CHECK_THROWS_AS(check(ListOpsOptions{64, 0, 10, 1}), UsageError);
}

TEST_CASE("retrieval: the answer sits at the distance asked, after the key", "[cpu][training]") {
  RetrievalOptions o;
  o.n = 200;
  o.distance = 150;
  o.jitter = 20;
  o.pairs = 4;
  const TaskInfo info = retrieval_info(o);
  CHECK(info.num_classes == 10);
  CHECK(info.vocab_size == 2 + 16 + 10 + 32);
  const TaskSet s = generate_retrieval(o, 50, 3, 0);
  std::set<std::int64_t> distances;
  for (std::int64_t i = 0; i < s.count(); ++i) {
    const std::int32_t* row = s.tokens.data() + i * o.n;
    REQUIRE(s.lengths[static_cast<std::size_t>(i)] == o.n);
    const std::int32_t key = row[0];
    REQUIRE(key >= 2);
    REQUIRE(key < 18);
    // The key occurs again exactly once, followed by the value that is the label.
    std::vector<std::int64_t> at;
    for (std::int64_t t = 1; t < o.n; ++t)
      if (row[t] == key) at.push_back(t);
    REQUIRE(at.size() == 1);
    const std::int64_t d = at[0] + 1;
    REQUIRE(d >= 150);
    REQUIRE(d <= 170);
    distances.insert(d);
    REQUIRE(row[d] == 18 + s.labels[static_cast<std::size_t>(i)]);
    // pairs - 1 distractor values elsewhere.
    std::int64_t values = 0;
    for (std::int64_t t = 0; t < o.n; ++t) values += row[t] >= 18 && row[t] < 28;
    REQUIRE(values == 4);
  }
  CHECK(distances.size() > 5);
  CHECK_THROWS_AS(check(RetrievalOptions{200, 190, 20, 1, 16, 10, 32}), UsageError);  // past the end
  CHECK_THROWS_AS(check(RetrievalOptions{200, 1, 0, 1, 16, 10, 32}), UsageError);
}

TEST_CASE("sample order: a permutation per epoch, a pure function of the cursor", "[cpu][training]") {
  SampleOrder a(10, 5, true), b(10, 5, true), plain(10, 5, false);
  std::vector<std::int64_t> first = a.take(0, 10), second = a.take(10, 10);
  std::vector<std::int64_t> sorted = first;
  std::sort(sorted.begin(), sorted.end());
  for (std::int64_t i = 0; i < 10; ++i) CHECK(sorted[static_cast<std::size_t>(i)] == i);
  CHECK(first != second);  // epochs differ
  CHECK(b.take(13, 4) == a.take(13, 4));
  CHECK(b.at(3) == first[3]);  // going back an epoch recomputes it
  CHECK(plain.take(8, 4) == std::vector<std::int64_t>{8, 9, 0, 1});
}

TEST_CASE("batches: sequences side by side without padding", "[cpu][training]") {
  Split s;
  s.n = 4;
  s.tokens = {0, 5, 6, 1, 0, 7, 1, 1, 0, 8, 9, 10};
  s.lengths = {3, 2, 4};
  s.labels = {1, 2, 3};
  s.has_labels = true;
  const Batch b = make_batch(s, {2, 0});
  CHECK(b.ids == std::vector<std::int32_t>{0, 8, 9, 10, 0, 5, 6});
  CHECK(b.lengths == std::vector<std::int64_t>{4, 3});
  CHECK(b.labels == std::vector<std::int32_t>{3, 1});
  CHECK(s.max_length() == 4);
}
