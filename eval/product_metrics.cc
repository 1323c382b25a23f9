#include "eval/product_metrics.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "eval/ranking_metrics.h"

namespace vasgd {

namespace {

// Users of each product over every split (train, val, test), sorted and unique.
struct ProductUsers {
  std::vector<int64_t> offsets;
  std::vector<int32_t> users;

  bool SharedBuyer(int32_t a, int32_t b) const {
    auto a0 = users.begin() + offsets[a], a1 = users.begin() + offsets[a + 1];
    auto b0 = users.begin() + offsets[b], b1 = users.begin() + offsets[b + 1];
    while (a0 != a1 && b0 != b1) {
      if (*a0 == *b0) return true;
      if (*a0 < *b0) ++a0; else ++b0;
    }
    return false;
  }
};

std::vector<UserProduct> AllPurchases(const EvalData& data) {
  const InteractionGraph& g = data.train.graph;
  std::vector<UserProduct> all;
  all.reserve(g.product_index.size() + data.val.size() + data.test.size());
  for (int32_t u = 0; u < g.num_users; ++u) {
    for (int64_t k = g.user_offsets[u]; k < g.user_offsets[u + 1]; ++k) all.push_back({u, g.product_index[k]});
  }
  all.insert(all.end(), data.val.begin(), data.val.end());
  all.insert(all.end(), data.test.begin(), data.test.end());
  return all;
}

ProductUsers BuildProductUsers(const EvalData& data) {
  std::vector<UserProduct> all = AllPurchases(data);
  std::sort(all.begin(), all.end(), [](const UserProduct& x, const UserProduct& y) {
    return x.product != y.product ? x.product < y.product : x.user < y.user;
  });
  all.erase(std::unique(all.begin(), all.end(),
                        [](const UserProduct& x, const UserProduct& y) { return x.product == y.product && x.user == y.user; }),
            all.end());
  ProductUsers pu;
  const int32_t np = data.train.graph.num_products;
  pu.offsets.assign(np + 1, 0);
  for (const UserProduct& x : all) ++pu.offsets[x.product + 1];
  for (int32_t p = 0; p < np; ++p) pu.offsets[p + 1] += pu.offsets[p];
  pu.users.reserve(all.size());
  for (const UserProduct& x : all) pu.users.push_back(x.user);
  return pu;
}

double Cosine(const Embeddings& s, const std::vector<float>& normalized, int32_t a, int32_t b) {
  if (!s.HasProduct(a) || !s.HasProduct(b)) return 0;
  const float* x = normalized.data() + static_cast<int64_t>(a) * s.dim;
  const float* y = normalized.data() + static_cast<int64_t>(b) * s.dim;
  double dot = 0;
  for (int32_t d = 0; d < s.dim; ++d) dot += static_cast<double>(x[d]) * y[d];
  return dot;
}

double AccuracyAt(const std::vector<double>& score, const std::vector<LabeledPair>& pairs, double t) {
  if (pairs.empty()) return std::nan("");
  int64_t right = 0;
  for (size_t i = 0; i < pairs.size(); ++i) right += (score[i] > t) == pairs[i].related;
  return static_cast<double>(right) / pairs.size();
}

// Threshold maximising accuracy of "related iff score > t"; ties between thresholds go to the
// first (highest) one found.
double BestThreshold(const std::vector<double>& score, const std::vector<LabeledPair>& pairs) {
  std::vector<size_t> order(score.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
  int64_t negatives = 0;
  for (const LabeledPair& p : pairs) negatives += !p.related;
  // Cut above everything: all predicted unrelated.
  int64_t best_right = negatives, right = negatives;
  double best_t = order.empty() ? 0 : score[order[0]] + 1e-6;
  for (size_t i = 0; i < order.size(); ++i) {
    right += pairs[order[i]].related ? 1 : -1;  // order[i] moves to "related"
    const bool cut_here = i + 1 == order.size() || score[order[i + 1]] < score[order[i]];
    if (!cut_here || right <= best_right) continue;
    best_right = right;
    best_t = i + 1 == order.size() ? score[order[i]] - 1e-6 : 0.5 * (score[order[i]] + score[order[i + 1]]);
  }
  return best_t;
}

}  // namespace

std::vector<LabeledPair> BuildRelationPairs(const EvalData& data, const std::vector<UserProduct>& held_out,
                                            uint64_t seed) {
  const InteractionGraph& g = data.train.graph;
  std::mt19937_64 rng(seed);
  std::vector<LabeledPair> positives;
  std::vector<int32_t> options;
  for (const UserProduct& x : held_out) {
    if (x.user >= g.num_users) continue;
    options.clear();
    for (int64_t k = g.user_offsets[x.user]; k < g.user_offsets[x.user + 1]; ++k) {
      if (g.product_index[k] != x.product) options.push_back(g.product_index[k]);
    }
    if (options.empty()) continue;
    positives.push_back({x.product, options[std::uniform_int_distribution<size_t>(0, options.size() - 1)(rng)], true});
  }
  if (positives.size() < 2) return positives;
  const ProductUsers buyers = BuildProductUsers(data);
  std::vector<LabeledPair> pairs = positives;
  std::uniform_int_distribution<size_t> pick_positive(0, positives.size() - 1);
  std::uniform_int_distribution<int32_t> pick_product(0, g.num_products - 1);
  for (const LabeledPair& pos : positives) {
    int32_t c = -1;
    for (int attempt = 0; attempt < 200; ++attempt) {
      // Popularity-matched partners first; uniform products if those keep colliding.
      const int32_t candidate = attempt < 100 ? positives[pick_positive(rng)].b : pick_product(rng);
      if (candidate != pos.a && !buyers.SharedBuyer(pos.a, candidate)) {
        c = candidate;
        break;
      }
    }
    if (c >= 0) pairs.push_back({pos.a, c, false});
  }
  return pairs;
}

RelationResult RelationAccuracy(const Embeddings& space, const std::vector<LabeledPair>& val,
                                const std::vector<LabeledPair>& test) {
  const std::vector<float> normalized = NormalizedRows(space.products.data(), space.num_products, space.dim);
  auto scores = [&](const std::vector<LabeledPair>& pairs) {
    std::vector<double> s(pairs.size());
    for (size_t i = 0; i < pairs.size(); ++i) s[i] = Cosine(space, normalized, pairs[i].a, pairs[i].b);
    return s;
  };
  const std::vector<double> val_scores = scores(val), test_scores = scores(test);
  RelationResult r;
  r.threshold = BestThreshold(val_scores, val);
  r.val_accuracy = AccuracyAt(val_scores, val, r.threshold);
  r.test_accuracy = AccuracyAt(test_scores, test, r.threshold);
  r.val_pairs = static_cast<int64_t>(val.size());
  r.test_pairs = static_cast<int64_t>(test.size());
  return r;
}

AnalogyResult AnalogyPrecision(const Embeddings& space, const EvalData& data, const AnalogyOptions& options) {
  const InteractionGraph& g = data.train.graph;
  std::vector<int32_t> eligible;
  for (int32_t u = 0; u < std::min(g.num_users, space.num_users); ++u) {
    if (g.user_offsets[u + 1] > g.user_offsets[u]) eligible.push_back(u);
  }
  AnalogyResult result;
  if (eligible.size() < 2 || options.queries <= 0 || options.k <= 0) return result;
  const ProductUsers buyers = BuildProductUsers(data);
  auto bought = [&](int32_t u, int32_t p) {
    return std::binary_search(buyers.users.begin() + buyers.offsets[p], buyers.users.begin() + buyers.offsets[p + 1], u);
  };

  // Queries as the "users" of a cosine scorer over the products.
  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<size_t> pick_user(0, eligible.size() - 1);
  const std::vector<float> users = NormalizedRows(space.users.data(), space.num_users, space.dim);
  const std::vector<float> products = NormalizedRows(space.products.data(), space.num_products, space.dim);
  Embeddings queries;
  queries.dim = space.dim;
  queries.num_products = space.num_products;
  queries.products = space.products;
  queries.has_product = space.has_product;
  std::vector<int32_t> p1s, u2s;
  for (int32_t q = 0; q < options.queries; ++q) {
    const int32_t u1 = eligible[pick_user(rng)];
    const int64_t e0 = g.user_offsets[u1], e1 = g.user_offsets[u1 + 1];
    const int32_t p1 = g.product_index[e0 + std::uniform_int_distribution<int64_t>(0, e1 - e0 - 1)(rng)];
    int32_t u2 = -1;
    for (int attempt = 0; attempt < 100 && u2 < 0; ++attempt) {
      const int32_t c = eligible[pick_user(rng)];
      if (c != u1 && !bought(c, p1)) u2 = c;
    }
    if (u2 < 0 || !space.HasProduct(p1)) continue;
    // Normalised parts, so no one term dominates by its norm alone (the paper's cosine space).
    const float* xp = products.data() + static_cast<int64_t>(p1) * space.dim;
    const float* xu1 = users.data() + static_cast<int64_t>(u1) * space.dim;
    const float* xu2 = users.data() + static_cast<int64_t>(u2) * space.dim;
    for (int32_t d = 0; d < space.dim; ++d) queries.users.push_back(xp[d] - xu1[d] + xu2[d]);
    for (int32_t d = 0; d < space.dim; ++d) queries.users.push_back(xu2[d]);
    p1s.push_back(p1);
    u2s.push_back(u2);
  }
  const int32_t n = static_cast<int32_t>(p1s.size());
  queries.num_users = 2 * n;
  const std::unique_ptr<Scorer> scorer = MakeEmbeddingScorer(queries, ScoreKind::kCosine);
  const int32_t np = space.num_products;
  std::vector<float> row(np);
  std::vector<uint8_t> mask(np, 0);
  std::vector<int32_t> top(options.k);
  double hits[2] = {0, 0};
  for (int32_t q = 0; q < 2 * n; ++q) {
    scorer->Score(&q, 1, row.data());
    const int32_t p1 = p1s[q / 2];
    mask[p1] = 1;
    const int32_t got = TopK(row.data(), mask.data(), np, options.k, top.data());
    mask[p1] = 0;
    for (int32_t r = 0; r < got; ++r) hits[q % 2] += bought(u2s[q / 2], top[r]);
  }
  result.queries = n;
  if (n > 0) {
    result.precision = hits[0] / (static_cast<double>(n) * options.k);
    result.precision_target_only = hits[1] / (static_cast<double>(n) * options.k);
  }
  return result;
}

CosineSpread RandomPairCosines(const Embeddings& space, int64_t pairs, uint64_t seed) {
  CosineSpread spread;
  std::vector<int32_t> with_vector;
  for (int32_t p = 0; p < space.num_products; ++p) {
    if (space.HasProduct(p)) with_vector.push_back(p);
  }
  if (with_vector.size() < 2 || pairs <= 0) return spread;
  const std::vector<float> normalized = NormalizedRows(space.products.data(), space.num_products, space.dim);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, with_vector.size() - 1);
  spread.samples.reserve(pairs);
  double sum = 0;
  for (int64_t i = 0; i < pairs; ++i) {
    const int32_t a = with_vector[pick(rng)];
    int32_t b = a;
    while (b == a) b = with_vector[pick(rng)];
    const double c = Cosine(space, normalized, a, b);
    spread.samples.push_back(static_cast<float>(c));
    sum += c;
  }
  const double mean = sum / pairs;
  double m2 = 0, m4 = 0;
  for (float c : spread.samples) {
    const double d2 = (c - mean) * (c - mean);
    m2 += d2;
    m4 += d2 * d2;
  }
  m2 /= pairs;
  m4 /= pairs;
  spread.mean = mean;
  spread.stddev = std::sqrt(m2);
  spread.excess_kurtosis = m2 > 0 ? m4 / (m2 * m2) - 3.0 : std::nan("");
  return spread;
}

}  // namespace vasgd
