#include "eval/ranking_metrics.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <thread>

namespace vasgd {

namespace {

constexpr float kLowest = -std::numeric_limits<float>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

inline float Key(float s) { return s != s ? kLowest : s; }

// Test items per user, as CSR over the users that have any, pairs deduplicated.
struct TestSets {
  std::vector<int32_t> users;
  std::vector<int64_t> offsets;  // users.size() + 1
  std::vector<int32_t> items;
};

TestSets GroupByUser(std::vector<UserProduct> pairs) {
  std::sort(pairs.begin(), pairs.end(), [](const UserProduct& a, const UserProduct& b) {
    return a.user != b.user ? a.user < b.user : a.product < b.product;
  });
  TestSets t;
  t.offsets.push_back(0);
  for (size_t i = 0; i < pairs.size(); ++i) {
    const bool new_user = i == 0 || pairs[i].user != pairs[i - 1].user;
    if (!new_user && pairs[i].product == pairs[i - 1].product) continue;
    if (new_user) {
      if (i > 0) t.offsets.push_back(static_cast<int64_t>(t.items.size()));
      t.users.push_back(pairs[i].user);
    }
    t.items.push_back(pairs[i].product);
  }
  if (!t.users.empty()) t.offsets.push_back(static_cast<int64_t>(t.items.size()));
  return t;
}

// Per-user and per-pair results, written by the workers at fixed positions and reduced in order
// afterwards, so the sums do not depend on scheduling.
struct Partials {
  std::vector<double> recall, ndcg, recall_warm, ndcg_warm, recall_cold, ndcg_cold;  // per user
  std::vector<double> auc, auc_among_cold;                                            // per pair
};

double IdealDcg(int64_t relevant, int32_t k) {
  double dcg = 0;
  for (int64_t r = 0; r < std::min<int64_t>(relevant, k); ++r) dcg += 1.0 / std::log2(r + 2.0);
  return dcg;
}

// Counts s(c) < s_t and s(c) == s_t over the given candidates not marked in `mask`.
template <typename Candidates>
double PairAuc(const float* row, float s_t, const uint8_t* mask, const Candidates& candidates) {
  int64_t less = 0, equal = 0, total = 0;
  for (int32_t c : candidates) {
    if (mask[c]) continue;
    const float s = Key(row[c]);
    less += s < s_t;
    equal += s == s_t;
    ++total;
  }
  return total == 0 ? kNaN : (less + 0.5 * equal) / static_cast<double>(total);
}

struct ProductRange {
  int32_t n;
  struct It {
    int32_t i;
    int32_t operator*() const { return i; }
    It& operator++() { ++i; return *this; }
    bool operator!=(const It& o) const { return i != o.i; }
  };
  It begin() const { return {0}; }
  It end() const { return {n}; }
};

class Worker {
 public:
  Worker(const Scorer& scorer, const InteractionGraph& train, const TestSets& tests,
         const std::vector<uint8_t>& warm, const std::vector<int32_t>& cold,
         const RankingOptions& options, Partials* out)
      : scorer_(scorer), train_(train), tests_(tests), warm_(warm), cold_(cold), options_(options),
        out_(out), np_(scorer.num_products()),
        scores_(static_cast<size_t>(options.block_users) * np_), mask_(np_, 0), top_(options.k) {}

  void RunBlock(int64_t first, int64_t last) {
    const int32_t n = static_cast<int32_t>(last - first);
    scorer_.Score(tests_.users.data() + first, n, scores_.data());
    for (int32_t k = 0; k < n; ++k) EvaluateUser(first + k, scores_.data() + static_cast<int64_t>(k) * np_);
  }

  int64_t non_finite() const { return non_finite_; }

 private:
  void EvaluateUser(int64_t ui, const float* row) {
    for (int32_t p = 0; p < np_; ++p) non_finite_ += row[p] != row[p];
    const int32_t u = tests_.users[ui];
    const int64_t t0 = tests_.offsets[ui], t1 = tests_.offsets[ui + 1];
    const bool has_train = u < train_.num_users;
    const int64_t e0 = has_train ? train_.user_offsets[u] : 0, e1 = has_train ? train_.user_offsets[u + 1] : 0;

    // Ranking: train items masked.
    for (int64_t e = e0; e < e1; ++e) mask_[train_.product_index[e]] = 1;
    const int32_t got = TopK(row, mask_.data(), np_, options_.k, top_.data());
    ScoreTopK(ui, got, t0, t1);

    // AUC: the user's test items leave the candidates too.
    for (int64_t t = t0; t < t1; ++t) mask_[tests_.items[t]] = 1;
    for (int64_t t = t0; t < t1; ++t) {
      const int32_t item = tests_.items[t];
      const float s_t = Key(row[item]);
      out_->auc[t] = PairAuc(row, s_t, mask_.data(), ProductRange{np_});
      out_->auc_among_cold[t] = warm_[item] ? kNaN : PairAuc(row, s_t, mask_.data(), cold_);
    }
    for (int64_t e = e0; e < e1; ++e) mask_[train_.product_index[e]] = 0;
    for (int64_t t = t0; t < t1; ++t) mask_[tests_.items[t]] = 0;
  }

  // Recall and NDCG of one user's top-K against all, warm and cold test items.
  void ScoreTopK(int64_t ui, int32_t got, int64_t t0, int64_t t1) {
    double dcg[3] = {0, 0, 0};
    int64_t hits[3] = {0, 0, 0}, relevant[3] = {0, 0, 0};
    for (int64_t t = t0; t < t1; ++t) {
      ++relevant[0];
      ++relevant[warm_[tests_.items[t]] ? 1 : 2];
    }
    for (int32_t r = 0; r < got; ++r) {
      const int32_t p = top_[r];
      if (!std::binary_search(tests_.items.begin() + t0, tests_.items.begin() + t1, p)) continue;
      const double gain = 1.0 / std::log2(r + 2.0);
      for (int g : {0, warm_[p] ? 1 : 2}) {
        ++hits[g];
        dcg[g] += gain;
      }
    }
    double* recall[3] = {&out_->recall[ui], &out_->recall_warm[ui], &out_->recall_cold[ui]};
    double* ndcg[3] = {&out_->ndcg[ui], &out_->ndcg_warm[ui], &out_->ndcg_cold[ui]};
    for (int g = 0; g < 3; ++g) {
      *recall[g] = relevant[g] ? static_cast<double>(hits[g]) / relevant[g] : kNaN;
      *ndcg[g] = relevant[g] ? dcg[g] / IdealDcg(relevant[g], options_.k) : kNaN;
    }
  }

  const Scorer& scorer_;
  const InteractionGraph& train_;
  const TestSets& tests_;
  const std::vector<uint8_t>& warm_;
  const std::vector<int32_t>& cold_;
  const RankingOptions& options_;
  Partials* out_;
  const int32_t np_;
  std::vector<float> scores_;
  std::vector<uint8_t> mask_;
  std::vector<int32_t> top_;
  int64_t non_finite_ = 0;
};

// Mean of the non-NaN values and how many there were.
double MeanDefined(const std::vector<double>& v, int64_t* count) {
  double sum = 0;
  int64_t n = 0;
  for (double x : v) {
    if (x != x) continue;
    sum += x;
    ++n;
  }
  if (count) *count = n;
  return n ? sum / n : kNaN;
}

}  // namespace

int32_t TopK(const float* scores, const uint8_t* mask, int32_t n, int32_t k, int32_t* out) {
  if (k <= 0) return 0;
  // Heap whose front is the worst kept entry.
  auto better = [scores](int32_t a, int32_t b) {
    const float sa = Key(scores[a]), sb = Key(scores[b]);
    return sa > sb || (sa == sb && a < b);
  };
  int32_t size = 0;
  for (int32_t i = 0; i < n; ++i) {
    if (mask && mask[i]) continue;
    if (size < k) {
      out[size++] = i;
      std::push_heap(out, out + size, better);
    } else if (better(i, out[0])) {
      std::pop_heap(out, out + size, better);
      out[size - 1] = i;
      std::push_heap(out, out + size, better);
    }
  }
  std::sort_heap(out, out + size, better);
  return size;
}

RankingMetrics EvaluateRanking(const Scorer& scorer, const InteractionGraph& train,
                               const std::vector<UserProduct>& test, const RankingOptions& options) {
  const TestSets tests = GroupByUser(test);
  const std::vector<uint8_t> warm = WarmProducts(train);
  std::vector<int32_t> cold;
  for (int32_t p = 0; p < train.num_products; ++p) {
    if (!warm[p]) cold.push_back(p);
  }
  const int64_t num_users = static_cast<int64_t>(tests.users.size());
  const int64_t num_pairs = static_cast<int64_t>(tests.items.size());
  Partials partial;
  for (auto* v : {&partial.recall, &partial.ndcg, &partial.recall_warm, &partial.ndcg_warm,
                  &partial.recall_cold, &partial.ndcg_cold}) {
    v->assign(num_users, kNaN);
  }
  partial.auc.assign(num_pairs, kNaN);
  partial.auc_among_cold.assign(num_pairs, kNaN);

  RankingOptions opts = options;
  opts.block_users = std::max(1, opts.block_users);
  int32_t threads = opts.threads > 0 ? opts.threads : static_cast<int32_t>(std::thread::hardware_concurrency());
  threads = std::max<int32_t>(1, std::min<int64_t>(threads, (num_users + opts.block_users - 1) / opts.block_users));
  std::atomic<int64_t> next_block{0};
  std::atomic<int64_t> non_finite{0};
  auto work = [&] {
    Worker worker(scorer, train, tests, warm, cold, opts, &partial);
    for (;;) {
      const int64_t first = next_block.fetch_add(opts.block_users);
      if (first >= num_users) break;
      worker.RunBlock(first, std::min<int64_t>(num_users, first + opts.block_users));
    }
    non_finite += worker.non_finite();
  };
  std::vector<std::thread> pool;
  for (int32_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();

  RankingMetrics m;
  m.recall = MeanDefined(partial.recall, &m.users);
  m.ndcg = MeanDefined(partial.ndcg, nullptr);
  m.recall_warm = MeanDefined(partial.recall_warm, &m.users_warm);
  m.ndcg_warm = MeanDefined(partial.ndcg_warm, nullptr);
  m.recall_cold = MeanDefined(partial.recall_cold, &m.users_cold);
  m.ndcg_cold = MeanDefined(partial.ndcg_cold, nullptr);
  std::vector<double> auc_warm, auc_cold;
  for (int64_t t = 0; t < num_pairs; ++t) (warm[tests.items[t]] ? auc_warm : auc_cold).push_back(partial.auc[t]);
  m.auc_warm = MeanDefined(auc_warm, &m.pairs_warm);
  m.auc_cold = MeanDefined(auc_cold, &m.pairs_cold);
  m.auc_cold_among_cold = MeanDefined(partial.auc_among_cold, nullptr);
  m.non_finite_scores = non_finite.load();
  return m;
}

}  // namespace vasgd
